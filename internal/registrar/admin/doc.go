// Package admin is the registrar's operator-facing HTTP API: JSON under
// /api/v1 on the admin listener (DESIGN "Security boundaries"), to review
// and decide pledges, manage trusted manufacturers, the allow-list and
// admin tokens, and to watch certificates, sessions, replicas and the
// audit trail. The contract is api/openapi.yaml (tag registrar-admin); the operator's
// guide is docs/registrar-admin.md.
//
// Every /api/v1 call carries "Authorization: Bearer <token>"; the token's
// role bounds what it may do (auditor reads, operator also decides pledges
// and edits the allow-list, admin also manages manufacturers and tokens).
// Every change is written together with an audit event naming the token.
//
// Errors are application/problem+json (RFC 9457), mapped from the store's
// errors and this package's own in one place (problem.go); a database
// that cannot be reached is 503. Every request body is capped.
//
// It is not the device-facing BRSKI API (RFC 8995 /.well-known/brski),
// and it does not own state: it reads and writes through the Store
// interface, which *store.Store satisfies.
package admin
