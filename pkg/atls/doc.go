// Package atls implements Application-Layer TLS (draft-friel-tls-atls-04)
// over HTTP and over CoAP as Landfall's wire profile fixes it
// (ATLS-PROFILE.md, sections 1-7; docs/atls-profile.md says the same in the
// project's words).
//
// A pledge behind TLS-terminating middleboxes cannot run TLS to the
// registrar directly, so it runs TLS 1.3 inside ordinary HTTP requests: each
// handshake flight is the body of a POST to /.well-known/atls, and the
// server's next flight is the body of the 200 answer. The package knows
// nothing of BRSKI; the registrar mounts Server and gives it an inner
// handler.
//
// # Files
//
// Each file implements one part of the profile (ATLS-PROFILE.md):
//
//	framing.go           1.1, 1.5   record framing of a flight, before any crypto
//	flight.go            1.1        flight transport: crypto/tls over flightConn
//	http_server.go       1.1-1.8    HTTP binding, server: POST, cookie, DELETE, retries
//	http_client.go       1.1-1.8, 3 HTTP binding, client; the records-mode RoundTripper
//	session_table.go     1.2, 1.9   session table: states, lifetimes, capacity (1.5)
//	session_id.go        1.4        session ids: owner, random bytes, MAC
//	errors.go            1.5        HTTP-level errors and Retry-After
//	rate_limit.go        1.5        per-client rate limit, client address behind proxies
//	config.go            1.5, 1.9, 2 ServerConfig and its defaults
//	handshake_server.go  2, 4.2     the server's TLS engine per session, ALPN dispatch
//	records_mode.go      3          inner HTTP/1.1 requests in records (also used by 6)
//	carrier.go           4.1        connection-ID carrier
//	key_export.go        4.3-4.6    suites, TLS-Exporter, ExportedContext, CIDs
//	protected_server.go  4.6, 5, 6  OSCORE and COSE requests, server side
//	protected_client.go  5, 6       OSCORE and COSE requests, client side
//	context_allocator.go 4.3, 4.6   the server CID drawn as the exported context is stored
//	context_cache.go     4.6, 5.7   per-replica cache of stored contexts and misses
//	forwarding.go        DESIGN 3   forwarding a session's flights to its owner replica
//	coap_server.go       7.1-7.7    CoAP binding, server: paths, methods, checks, Echo, blocks
//	coap_flight.go       7.3, 7.5   a CoAP flight to the HTTP engine, its answer to CoAP codes
//	coap_blockwise.go    7.2        Block1 reassembly, Block2 answers (RFC 7959)
//	coap_echo.go         7.6        amplification limit: Echo (RFC 9175 2.4), verified sources
//	coap_exchange_cache.go 7.4      duplicate Confirmable messages (RFC 7252 4.5)
//	coap_answer.go       7.3, 7.5   CoAP answers, kept for duplicates and Block2
//	coap_client.go       7          CoAP binding, client: blocks, Echo, Location, retries
//	coap_forward.go      7.3, DESIGN 3 CoAP across replicas: each message's home, forwarded once
//	coap_forward_datagram.go 7      the datagram loop behind a UDP balancer (PROXY v1 header)
//
// The inner HTTP/1.1 codec (profile 3.2), shared with pkg/oscore's HTTP
// mapping, is the subpackage httpmsg.
//
// # Flight model
//
// Both sides run an unmodified crypto/tls endpoint over flightConn, an
// in-memory net.Conn whose Write never blocks and whose Read, on an empty
// buffer, blocks and signals that the engine has said all it can: the
// flight is over. The driver feeds one received flight, waits for "Read
// blocked" or "engine finished" (never "Handshake returned", which would cut
// a records-mode answer or the key-export carrier short), and sends what the
// engine wrote. Each server session is one goroutine; a session in
// handshake holds about 23 KB (BENCHMARKS.md).
//
// # Profile choices
//
//   - Sessions (1.2, 1.4): the first 200 sets the cookie atls=<sid>. A sid
//     is base64url of a version byte, the owner replica id, 16 random bytes
//     and a 12-byte HMAC-SHA256 tag under a key all replicas share; a forged
//     sid is answered 404 before the body is read.
//   - Errors (1.5) are text/plain and carry no TLS records: 415, 413 (over
//     64 KiB), 400 (framing, no ClientHello, carrier errors), 404, 429 and
//     503 with Retry-After. Framing, rate limit and capacity are checked
//     before any cryptography.
//   - Limits before crypto, per client address (the direct peer, or behind
//     TrustedProxies the rightmost X-Forwarded-For hop that is not one):
//     new sessions at DefaultRateLimit (100/s, burst 200; PerSecond < 0
//     disables), and at most MaxHandshakesPerClient (64) sessions in
//     handshake at once, both 429 with Retry-After for that client only;
//     then MaxHandshakes (1024) for the replica, 503.
//   - Handshake failures (1.6) are TLS alerts in a 200; the session ends,
//     and any flight on it but the retry of the alerted one gets 404.
//   - VerifyPeer, when set, judges the client certificate once the
//     handshake is complete and before a context is stored or a records
//     session established; a refusal is an HTTP error (403 by default, the
//     error's StatusCode() otherwise) with its reason, and the session ends.
//   - Retransmission (1.7): a POST byte-identical to the previous flight of
//     its session gets the previous answer again without touching TLS, even
//     after the key export or a fatal alert, checked before any state check.
//   - DELETE (1.8) ends the session and deletes its exported context.
//   - Lifetimes (1.9) run on the configured clock: 30 s idle and 60 s total
//     in handshake, 5 min idle for records mode; finished sessions are kept
//     30 s for retries. Expired sessions are swept lazily and when the
//     table is full. An exported context does not die with its session: it
//     lives Lifetimes.Context (24 h) in the store.
//   - Cookie (1.2): Secure with SecureCookie, when this server terminated
//     TLS, or when a trusted proxy sends X-Forwarded-Proto: https.
//   - Shutdown: Drain refuses new sessions; WaitHandshakes waits only for
//     handshakes still progressing (a flight within HandshakeStall, 5 s).
//   - TLS (2): TLS 1.3 only, no session tickets, ALPN in the server's order
//     (atls-oscore, atls-cose, http/1.1 by default); a client without ALPN
//     gets records mode.
//   - Records mode (3): one inner HTTP/1.1 request per POST, served by the
//     configured handler with r.TLS set to the inner session's state; the
//     response always has Content-Length.
//   - Key export (4): the connection-ID carrier ExtensionType || cid_len ||
//     cid travels as the first application data each way (0xFFDC for
//     atls-oscore, 0xFFDD for atls-cose), the client's with its Finished.
//     TLS-Exporter(label, no context, 2L) gives Master Secret [0, L) and
//     Master Salt [L, 2L); the server's context (Sender ID = client CID,
//     Recipient ID = server CID) goes to a ContextSink with the client's
//     chain, the suite, the certificate the server presented and the
//     RFC 9266 tls-exporter value, and the TLS state is released.
//
// # Multiple replicas
//
// A POST or DELETE for a session another replica owns goes to the
// configured Forwarder, once (ForwardedHeader stops a second hop).
// HTTPForwarder sends it to the owner's internal listener. Key-export
// contexts need no forwarding: they live in the shared context store, and
// any replica serves a protected request. A replica caches a context's
// derived keys, parsed peer and replay window for five seconds; replays and
// deletions are still decided by the store's atomic MarkSeen after
// decryption, and a request that fails to decrypt under a cached context
// is checked against the store's window, so that a replayed Partial IV is
// 401 everywhere (5.7). A kid the store does not know is remembered for
// two seconds (at most 4096 kids), so that a flood of one unknown kid costs
// one lookup per replica and interval.
//
// # CoAP
//
// CoAPServer is a second front end of the same Server (profile 7): each
// reassembled flight becomes the POST the HTTP binding would have
// received, so CoAP sessions share the session table, ids, limits,
// retransmission cache and key export. go-coap v3 carries the outer CoAP;
// its block-wise layer is off because it reassembles before the handler
// could challenge block 0 with Echo or refuse a flight early. Over CoAP
// the server never offers atls-cose (7.7).
//
// # Client
//
// Client runs the same profile from the pledge's side through any
// http.Client. In records mode a ClientSession is an http.RoundTripper; in
// the key-export modes it returns the ExportedContext. With Provisional set
// the server certificate is not verified but handed to the caller, for
// BRSKI's provisional acceptance.
package atls
