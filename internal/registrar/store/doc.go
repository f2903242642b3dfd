// Package store is the registrar's PostgreSQL state for BRSKI (RFC 8995):
// the manufacturers it trusts, the owner's allow-list, pledges and the
// operator's decisions about them, every voucher exchange, telemetry
// report and issued certificate, the admin API's bearer tokens and the
// audit trail, plus a read-only view of the replicas and ATLS contexts
// that the cluster packages (internal/registrar/replica, internal/registrar/ctxstore) write.
//
// The schema is migrations/registrar; this package does not migrate.
// Methods are grouped in files by table. Every method that changes what
// an operator manages takes the acting principal and writes its audit
// event in the same transaction, so the trail cannot miss a change.
//
// Callers branch on errors with errors.Is / errors.As: ErrNotFound
// (*NotFoundError names what is missing), ErrConflict, ErrInvalid,
// ErrUnauthenticated, ErrUnavailable (the database cannot be reached;
// an HTTP layer answers 503) and *ImportError (every rejected row of an
// allow-list import). It is not an HTTP layer: mapping these to status
// codes is internal/registrar/admin's job.
package store
