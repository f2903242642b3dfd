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
// What both admin APIs share (bearer authentication, strict JSON and query
// decoding, body limits, paging, probes, problem+json rendering) is
// internal/adminapi; this package adds the registrar's role rule
// (auth.go), the mapping of the store's errors (problem.go) and one file
// per resource: pledges.go, manufacturers.go, allowlist.go, tokens.go and
// views.go (certificates, sessions, replicas, audit events). What a
// handler does beyond decoding and answering, where it is more than one
// store call, is an exported function of service.go that the operator
// console (internal/console/registrarui) calls too. A database
// that cannot be reached is 503 with Retry-After. Every request body is
// capped.
//
// It is not the device-facing BRSKI API (RFC 8995 /.well-known/brski),
// and it does not own state: it reads and writes through the Store
// interface, which *store.Store satisfies.
package admin
