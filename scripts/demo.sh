#!/usr/bin/env bash
# The main job, on one machine, as real processes: builds masa, registrar and
# pledge, runs `masa init`, `registrar init`, `masa serve` and `registrar
# serve` on their embedded SQLite stores (no PostgreSQL needed), and
# onboards a device with `pledge onboard` through a TLS-terminating load
# balancer, printing each step. Needs only Go. Options are passed to
# cmd/demo: --mode direct|atls-records|atls-oscore|atls-cose, --serial,
# --out DIR, --dir DIR, --keep (leave it running; Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || { echo "demo: the go tool (Go 1.26) is needed" >&2; exit 1; }
exec go run ./cmd/demo "$@"
