// Package oscore implements Object Security for Constrained RESTful
// Environments (OSCORE, RFC 8613) and the COSE_Encrypt0 mode of Landfall's
// ATLS profile (ATLS-PROFILE.md sections 4-6), the two ways an ATLS session
// protects application data with keys exported from its TLS handshake.
//
// The files follow RFC 8613: context.go derives Sender Key, Recipient Key
// and Common IV (3.2) and builds nonces (5.2); aad.go the AAD (5.4);
// option.go the OSCORE option (6.1) and its HTTP header form (11.1);
// protect.go protects and verifies requests and responses (8); replay.go
// is the replay window (7.4); coap.go the inner CoAP message (5.3) and
// httpmap.go its mapping to and from HTTP with the profile's status and
// Content-Format tables (5.5, 5.6); cose.go the profile's COSE mode (6);
// store.go the server-side ContextStore.
//
// AEADs: AES-CCM-16-64-128 (10), AES-CCM-16-128-128 (30),
// AES-CCM-16-64-256 (11), AES-CCM-16-128-256 (31) through pion/dtls's CCM,
// A128GCM (1) and A256GCM (3) from the standard library, and
// ChaCha20/Poly1305 (24) from x/crypto. HKDF with SHA-256 or SHA-384.
//
// # Server-side flow
//
// A server never keeps sender state: it answers without a Partial IV,
// reusing the request's nonce (profile 5.4). For each request it parses the
// option (or COSE object), looks the kid up in a ContextStore, rejects a
// Partial IV already in the window before decrypting, decrypts with Keys,
// and only then marks the Partial IV with ContextStore.MarkSeen, which is
// atomic across replicas. pkg/atls does exactly this.
//
// # What it is not
//
// No CoAP transport, no Block-wise, no Observe, no group OSCORE, no
// kid-context negotiation (Appendix B.2). The CBOR it needs is a small
// hand-written subset, so that byte strings are always definite and an
// empty ID is h” (never null).
package oscore
