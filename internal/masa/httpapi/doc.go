// Package httpapi is the MASA's HTTP surface: the device-facing BRSKI
// endpoints of RFC 8995 (requestvoucher, requestauditlog) and the admin API
// for factory lines, sales and operators (bearer tokens with roles), with
// health endpoints. The contract is api/openapi.yaml.
//
// Device side: device.go (RFC 8995 5.5-5.8), errors.go (plain-text
// answers, RFC 8995 5.6), mediatype.go, metrics.go.
//
// Admin side, on internal/adminapi (strict JSON and query decoding, cursor
// paging, CSV exports, probes, problem+json answers, shared with the
// registrar's admin API): admin.go (routes, the role rule, the mapping of
// the service's errors), then one file per resource: idevids.go,
// devices.go (import, queries, status), owners.go, ownership.go,
// policies.go, vouchers.go and events.go.
package httpapi
