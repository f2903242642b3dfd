// Package oscore implements Object Security for Constrained RESTful
// Environments (OSCORE, RFC 8613) and the COSE_Encrypt0 mode of Landfall's
// ATLS profile (ATLS-PROFILE.md sections 4-6), the two ways an ATLS session
// protects application data with keys exported from its TLS handshake.
//
// # Files
//
// The files follow RFC 8613 (and, for the HTTP binding and the COSE mode,
// ATLS-PROFILE.md):
//
//	context.go    RFC 8613 3.1, 3.2, 5.2  Params, Derive (Sender Key, Recipient Key, Common IV), nonces
//	algorithm.go  RFC 8613 3.2.1, 5.2     AEADs and HKDF hashes, nonce length and ID limits
//	protect.go    RFC 8613 7.1, 7.2.1, 8  Sender Sequence Number, protect and verify (8.1-8.4)
//	aad.go        RFC 8613 5.4            the AAD (aad_array, no Class I options)
//	coap.go       RFC 8613 4.1, 5.3       the inner CoAP message: Code, Class E options, payload
//	option.go     RFC 8613 6.1, 11.1      the OSCORE option and its HTTP header form
//	replay.go     RFC 8613 3.2.2, 7.4     the replay window (profile 4.5: 32)
//	httpmap.go    RFC 8613 11, profile 5.2-5.6  HTTP to and from the inner message, status and Content-Format tables
//	cose.go       profile 6               COSE_Encrypt0 mode: object, external AAD, seal and open
//	cbor.go       RFC 8949                the CBOR subset OSCORE and COSE need
//	store.go      profile 4.6, 5.7        ContextStore (shared, atomic MarkSeen) and MemoryStore
//	oscoretest/   profile 5.7             the conformance suite of a shared ContextStore
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
// # API at a glance
//
// Context (RFC 8613 3): Derive(Params) (*Keys, error) computes Sender Key,
// Recipient Key and Common IV and refuses IDs longer than
// Algorithm.MaxIDLen (nonce length minus 6); NewContext(Params) wraps Keys
// with a Sender Sequence Number that is taken atomically and fails with
// ErrSequenceExhausted past MaxSequence (2^40-1).
//
// Client (request sender), OSCORE mode:
//
//	c, _ := oscore.NewContext(params)
//	m, _ := oscore.RequestToMessage(httpReq, body)          // profile 5.2, 5.3
//	opt, ct, st, _ := c.ProtectRequest(m.Marshal())        // RFC 8613 8.1
//	// POST ct, Content-Type: oscore.MediaType, oscore.HeaderName: oscore.EncodeHeader(opt)
//	raw, _ := oscore.DecodeHeader(resp.Header.Get(oscore.HeaderName))
//	pt, _ := c.UnprotectResponse(st, raw, respBody)        // RFC 8613 8.4
//	rm, _ := oscore.UnmarshalMessage(pt)
//	httpResp, _ := oscore.MessageToResponse(rm, httpReq)
//
// Server (request receiver), in steps so that the replay check can run
// against a shared ContextStore before decryption and the mark after it
// (profile 5.7):
//
//	raw, _ := oscore.DecodeHeader(r.Header.Get(oscore.HeaderName))
//	opt, _ := oscore.ParseOption(raw)                      // kid, PIV
//	sc, err := store.Get(ctx, opt.KID)                     // ErrContextNotFound
//	piv, _ := oscore.DecodePIV(opt.PIV)
//	if sc.Window.Seen(piv) { /* ErrReplay */ }
//	keys, _ := oscore.Derive(sc.Params)
//	pt, st, err := keys.UnprotectRequest(opt, body)        // ErrDecrypt
//	err = store.MarkSeen(ctx, opt.KID, piv)                // atomic; ErrReplay
//	m, _ := oscore.UnmarshalMessage(pt)
//	req, _ := oscore.MessageToRequest(ctx, m, host)
//	// ... serve req, then:
//	rm := oscore.ResponseToMessage(req.Method, status, header, respBody) // 5.5, 5.6
//	ropt, rct := keys.ProtectResponse(st, rm.Marshal())    // request nonce, "AA"
//
// COSE mode (profile 6) uses the same contexts: Context.SealRequest and
// Context.OpenResponse on the client, ParseEncrypt0, Keys.OpenRequest and
// Keys.SealResponse on the server (kid and PIV are in the Encrypt0's
// unprotected header); the plaintexts are inner HTTP/1.1 messages, read and
// written with pkg/atls/httpmsg (profile 3.2), the ATLS profile's codec
// that records mode uses as well; pkg/oscore does not depend on it.
//
// Errors: ErrMalformed wraps every parse failure; ErrContextNotFound,
// ErrReplay and ErrDecrypt carry the profile's reasons as their text.
//
// Server store: ContextStore (Put, Get, MarkSeen, Delete) with MemoryStore
// for one process; oscoretest.RunContextStore is the conformance suite a
// shared implementation must pass (concurrent replays of one Partial IV:
// exactly one succeeds).
//
// # What it is not
//
// No CoAP transport, no Block-wise, no Observe, no group OSCORE, no
// kid-context negotiation (Appendix B.2). The CBOR it needs is a small
// hand-written subset, so that byte strings are always definite and an
// empty ID is h” (never null).
package oscore
