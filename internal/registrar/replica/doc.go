// Package replica is the registrar's replica registry (DESIGN decision 3).
//
// Every registrar replica records its id and the URL of its internal
// listener in PostgreSQL and refreshes a heartbeat. A replica that receives
// an ATLS flight for a session another replica owns resolves the owner here
// and forwards the request once (pkg/atls HTTPForwarder). A replica whose
// heartbeat is older than the timeout counts as gone: its sessions still in
// handshake are lost and their clients start over, which the ATLS profile
// allows (404 for an unknown session).
//
// It is not a membership protocol: no leader, no consensus; PostgreSQL is
// the single source of truth all replicas already depend on.
package replica
