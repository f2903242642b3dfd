// Package sqlstore implements masa.Store on either backend of
// internal/sqldb: PostgreSQL through pgx/v5 (pgxpool), the store of a
// replicated deployment, or the embedded SQLite file of a single MASA
// (modernc.org/sqlite). Open connects to PostgreSQL, whose schema
// migrations.MASASchema is applied by `masa migrate` or `masa serve
// --migrate`; OpenEmbedded opens the SQLite file and migrates it itself.
//
// The SQL is shared where it is portable; the few statements that are not
// (membership in a list argument, = ANY($1) on PostgreSQL and json_each on
// SQLite, where internal/sqldb passes slices as JSON arrays) keep one text
// per dialect, chosen with sqldb.Pick.
//
// One file per resource: devices.go (devices and their effective
// policy), owners.go (owners and ownership), policies.go, vouchers.go
// (issued vouchers, the RFC 8995 5.8 audit log's source), events.go (the
// operator audit trail) and tokens.go (admin API tokens).
//
// Multi-row changes run in one transaction; the audit event describing an
// operator action is written in the same transaction as the action. Every
// error is classified as the registrar's store classifies it
// (internal/pgerr, which knows both backends' errors): a database that
// cannot be reached, or an embedded database that is closed or busy past
// its timeout, is masa.Unavailable, 503 with Retry-After on every MASA
// endpoint.
package sqlstore
