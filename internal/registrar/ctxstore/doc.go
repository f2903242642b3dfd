// Package ctxstore keeps the registrar's ATLS key-export state in
// PostgreSQL, shared by every replica (DESIGN decisions 2 and 3):
//
//   - server connection IDs, unique across the deployment (profile 4.3);
//   - exported OSCORE/COSE contexts, their master secret and salt sealed
//     with AES-256-GCM under a key from configuration, so that a database
//     dump alone does not reveal them;
//   - each context's replay window (RFC 8613 7.4), checked and advanced in
//     one UPDATE so that a request replayed to several replicas at once runs
//     at most once.
//
// Store implements atls.CIDAllocator for the handshake side and
// oscore.ContextStore (passing the oscoretest conformance suite) for the
// contexts themselves.
package ctxstore
