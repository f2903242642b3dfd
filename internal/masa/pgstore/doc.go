// Package pgstore implements masa.Store on PostgreSQL through pgx/v5
// (pgxpool), with the schema migrations.MASASchema, applied by
// migrations.Up (`masa migrate`, or `masa serve` at start-up).
//
// One file per resource: devices.go (devices and their effective
// policy), owners.go (owners and ownership), policies.go, vouchers.go
// (issued vouchers, the RFC 8995 5.8 audit log's source), events.go (the
// operator audit trail) and tokens.go (admin API tokens).
//
// Multi-row changes run in one transaction; the audit event describing an
// operator action is written in the same transaction as the action. Every
// error is classified as the registrar's store classifies it
// (internal/pgerr): a database that cannot be reached is masa.Unavailable,
// 503 with Retry-After on every MASA endpoint.
package pgstore
