# Landfall's binaries in one image: masa, registrar, pledge, loadgen.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ ./cmd/masa ./cmd/registrar ./cmd/pledge ./cmd/loadgen

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/landfall landfall && mkdir -p /var/lib/landfall && chown landfall /var/lib/landfall
COPY --from=build /out/ /usr/local/bin/
USER landfall
ENTRYPOINT []
