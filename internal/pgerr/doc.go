// Package pgerr classifies PostgreSQL errors the same way for every
// Landfall store: whether the database could not be reached (the caller
// answers 503 with Retry-After, RFC 9110 section 15.6.4 and 10.2.3, and
// the client retries), and which SQLSTATE a statement failed with
// (PostgreSQL Appendix A), for the constraint violations stores translate.
//
// It knows nothing of any store's own errors: each store wraps an
// unreachable database in its own sentinel (registrar store.ErrUnavailable,
// masa.ErrUnavailable) and keeps the cause for the log.
package pgerr
