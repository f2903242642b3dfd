// Package httpapi is the MASA's HTTP surface: the device-facing BRSKI
// endpoints of RFC 8995 (requestvoucher, requestauditlog) and the admin API
// for factory lines, sales and operators (bearer tokens with roles), with
// health endpoints. The contract is api/openapi.yaml.
//
// Errors from the service are mapped to responses in one place (errors.go):
// plain text on the device side, as RFC 8995 5.6 expects, and
// application/problem+json on the admin side.
package httpapi
