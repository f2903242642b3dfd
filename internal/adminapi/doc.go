// Package adminapi is what the registrar's and the MASA's admin APIs share:
// bearer-token authentication with a role check the service supplies,
// strict JSON and query decoding, request body limits, cursor paging, CSV
// exports, the health and readiness probes, and the one problem+json
// (RFC 9457) rendering of errors, which logs the cause of every 5xx with
// the request id (internal/requestid).
//
// The conventions it fixes for both APIs:
//   - JSON member names are snake_case.
//   - Lists page with ?limit= and ?cursor=; a page is {"items": [...],
//     "next": "<cursor>"}, next absent on the last page; cursors are opaque.
//   - An unknown or repeated query parameter is a 400 naming it.
//   - A JSON body must be application/json, one object, no unknown member.
//   - Errors are application/problem+json; 401 carries WWW-Authenticate,
//     503 carries Retry-After in whole seconds.
//
// It holds no rules of its own about tokens or roles: a service passes the
// function that resolves a token to its principal and the checks that say
// what a principal may do. It is not the device-facing BRSKI surface.
package adminapi
