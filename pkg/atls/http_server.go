package atls

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// This file implements the server side of the HTTP binding (profile 1.1-1.8):
// POST and DELETE on the ATLS resource, the atls cookie (1.2), dispatch by
// Content-Type (1.3), retransmissions (1.7) and the end of a session (1.8).

// Server is the http.Handler of the ATLS resource (profile sections 1-4).
// Mount it at the public ATLS path. It is safe for concurrent use.
type Server struct {
	cfg       ServerConfig
	tls       *tls.Config
	sids      *sidCodec
	table     *sessionTable
	limiter   *rateLimiter
	records   bool // http/1.1 among the protocols
	lastSweep atomic.Int64
	draining  atomic.Bool
	contexts  *contextCache
	misses    *missCache
	// cookieAttrs and secureCookieAttrs end the Set-Cookie of profile 1.2
	// (see cookieAttributes).
	cookieAttrs, secureCookieAttrs string
	// releaseErases: CIDs.ReleaseCID deletes the context as well
	// (ContextCIDReleaser), so endSession makes that one call.
	releaseErases bool
	paths         contextPaths // how the key export stores its context
	// coapReplica serves CoAP messages other replicas forward here
	// (coap_forward.go); nil without a CoAP binding.
	coapReplica atomic.Pointer[CoAPReplica]
}

// NewServer validates cfg and returns a Server.
func NewServer(cfg ServerConfig) (*Server, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sids, err := newSIDCodec(c.SessionKey)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      c,
		sids:     sids,
		table:    newSessionTable(c.Lifetimes, tableLimits{handshakes: c.MaxHandshakes, sessions: c.MaxSessions, perClient: c.MaxHandshakesPerClient}),
		limiter:  newRateLimiter(c.RateLimit),
		contexts: newContextCache(),
		misses:   newMissCache(),

		cookieAttrs:       cookieAttributes(c.Path, false),
		secureCookieAttrs: cookieAttributes(c.Path, true),
	}
	for _, p := range c.Protocols {
		s.records = s.records || p == ProtoRecords
	}
	if r, ok := c.CIDs.(ContextCIDReleaser); ok && r.ReleaseCIDDeletesContext() {
		if ss, ok := c.Sink.(StoreSink); ok && sameObject(ss.Store, r) {
			s.releaseErases = true
		}
	}
	s.paths = newContextPaths(c)
	s.tls = serverTLSConfig(c.TLS, c.Protocols)
	s.tls.GetCertificate = recordLocalCertificate(c.TLS)
	s.tls.Certificates = nil
	return s, nil
}

// Stats is a snapshot of the session table.
type Stats struct {
	Handshakes int // sessions still in handshake
	// ActiveHandshakes counts the sessions in handshake that are still
	// progressing: a flight of theirs is being processed or arrived within
	// HandshakeStall. Abandoned half-open sessions are not counted.
	ActiveHandshakes int
	Sessions         int // all sessions held, including finished ones kept for retries
}

// HandshakeStall is how long a session in handshake may go without a
// flight before WaitHandshakes and Stats().ActiveHandshakes treat it as
// abandoned. A pledge sends its next flight one round trip after the
// previous answer; the session itself still lives the 30 s of profile 1.9.
const HandshakeStall = 5 * time.Second

// Stats reports the current session counts.
func (s *Server) Stats() Stats {
	h, t := s.table.counts()
	active, _, _ := s.table.progressing(s.cfg.Now(), HandshakeStall)
	return Stats{Handshakes: h, ActiveHandshakes: active, Sessions: t}
}

// Sweep removes expired sessions now and waits until their TLS state is
// released. The server also sweeps by itself as requests arrive; Sweep
// exists for callers with their own timers. Contexts exported by expired
// sessions stay: they live Lifetimes.Context in the store (1.9).
func (s *Server) Sweep() {
	s.cleanup(s.table.sweep(s.cfg.Now())).Wait()
}

// Drain stops admitting new sessions (503 with Retry-After, so that the
// load balancer's other replicas take them) while sessions already running
// go on; a shutting-down replica calls it, then WaitHandshakes with its
// grace period, then stops.
func (s *Server) Drain() { s.draining.Store(true) }

// WaitHandshakes waits until no session of this server is progressing
// through its handshake (see Stats.ActiveHandshakes), or ctx ends, whose
// error it then returns. Half-open sessions whose client went away do not
// hold it beyond HandshakeStall, so a draining replica stops as soon as the
// handshakes that can still finish have finished.
func (s *Server) WaitHandshakes(ctx context.Context) error {
	for {
		now := s.cfg.Now()
		n, next, changed := s.table.progressing(now, HandshakeStall)
		if n == 0 {
			return nil
		}
		// Wake at the next change, or when the next session would stall
		// (re-checked at least every second, for injected clocks).
		d := time.Second
		if !next.IsZero() {
			d = min(max(next.Sub(now), time.Millisecond), time.Second)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// Close ends every session and releases its TLS state.
func (s *Server) Close() {
	for _, sess := range s.table.drain() {
		sess.mu.Lock()
		sess.release()
		sess.mu.Unlock()
	}
}

// ServeHTTP implements the HTTP binding of profile section 1.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c := s.coapReplica.Load(); c != nil && r.Method == http.MethodPost && r.Header.Get(CoAPSourceHeader) != "" {
		c.serveForwarded(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.post(w, r)
	case http.MethodDelete:
		s.deleteSession(w, r)
	default:
		w.Header().Set("Allow", "POST, DELETE")
		writeError(w, errorf(http.StatusMethodNotAllowed, "method %s not allowed on the ATLS resource", r.Method))
	}
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	s.maybeSweep()
	mt := r.Header.Get("Content-Type")
	if mt != ContentTypeATLS {
		// The exact type is what every flight carries; anything else is
		// parsed (parameters, case).
		mt, _, _ = mime.ParseMediaType(mt)
	}
	switch mt {
	case ContentTypeATLS:
	case ContentTypeOSCORE, ContentTypeCOSE:
		// Found by kid alone; an atls cookie is ignored (profile 1.3).
		cose := mt == ContentTypeCOSE
		if cose && !oscore.IsCOSEMediaType(r.Header.Get("Content-Type")) {
			writeError(w, errorf(http.StatusUnsupportedMediaType, "Content-Type must be %s", oscore.COSEMediaType))
			return
		}
		if s.cfg.Contexts != nil {
			s.serveProtected(w, r, cose)
			return
		}
		fallthrough
	default:
		writeError(w, errorf(http.StatusUnsupportedMediaType, "Content-Type must be %s", ContentTypeATLS))
		return
	}
	sid, hasSID := sessionCookie(r)
	if hasSID && !s.owns(w, r, sid) {
		return
	}
	body, err := readFlight(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if !hasSID {
		s.startSession(w, r, body)
		return
	}
	s.continueSession(w, r, sid, body)
}

// owns verifies a sid (profile 1.4) and hands requests for sessions of
// other replicas to the forwarder. It reports whether this server should
// go on with the request.
func (s *Server) owns(w http.ResponseWriter, r *http.Request, sid string) bool {
	owner, err := s.sids.owner(sid)
	if err != nil {
		writeError(w, errorf(http.StatusNotFound, "unknown session"))
		return false
	}
	if owner == s.cfg.ReplicaID {
		return true
	}
	if s.cfg.Forwarder == nil || r.Header.Get(ForwardedHeader) != "" {
		writeError(w, errorf(http.StatusNotFound, "unknown session"))
		return false
	}
	s.cfg.Forwarder.Forward(w, r, owner)
	return false
}

// readFlight reads a body of at most MaxFlightSize bytes (profile 1.5).
func readFlight(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxFlightSize {
		return nil, errorf(http.StatusRequestEntityTooLarge, "body exceeds %d bytes", MaxFlightSize)
	}
	body, err := readAllSized(http.MaxBytesReader(w, r.Body, MaxFlightSize), r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "body exceeds %d bytes", MaxFlightSize)
		}
		return nil, errorf(http.StatusBadRequest, "reading body: %v", err)
	}
	return body, nil
}

// startSession admits a ClientHello as a new session (profile 1.2). All
// checks that cost no cryptography come first: framing, rate, capacity.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, body []byte) {
	if len(body) == 0 {
		writeError(w, errorf(http.StatusBadRequest, "empty flight cannot start a session"))
		return
	}
	if err := checkFlight(body); err != nil {
		writeError(w, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if !startsWithClientHello(body) {
		writeError(w, errorf(http.StatusBadRequest, "a new session must start with a ClientHello"))
		return
	}
	if s.draining.Load() {
		writeError(w, &httpError{status: http.StatusServiceUnavailable, reason: "replica shutting down", retryAfter: s.cfg.RetryAfter})
		return
	}
	now := s.cfg.Now()
	client := clientAddress(r, s.cfg.TrustedProxies)
	if wait, ok := s.limiter.allow(client, now); !ok {
		writeError(w, &httpError{status: http.StatusTooManyRequests, reason: "too many new sessions from this client", retryAfter: wait})
		return
	}
	sid, err := s.sids.mint(s.cfg.ReplicaID)
	if err != nil {
		writeError(w, err)
		return
	}
	sess := &session{sid: sid, client: client}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	adm, swept := s.table.reserve(sess, now)
	s.cleanup(swept)
	switch adm {
	case refusedClient:
		// 1.5's per-client 429: this client holds MaxHandshakesPerClient
		// half-open sessions; everyone else is still served.
		writeError(w, &httpError{status: http.StatusTooManyRequests, reason: "too many handshakes in progress from this client", retryAfter: s.cfg.RetryAfter})
		return
	case refusedCapacity:
		writeError(w, &httpError{status: http.StatusServiceUnavailable, reason: "session capacity exhausted", retryAfter: s.cfg.RetryAfter})
		return
	}
	conn := newFlightConn(localAddr(r), remoteAddr(r))
	sess.tls = tls.Server(conn, s.sessionTLS(r))
	sess.outer = r
	conn.feed(body)
	sess.eng = startEngine(conn, func() { s.runSession(sess) })
	out, finished, err := sess.eng.wait(s.cfg.FlightTimeout)
	s.conclude(w, r, sess, sha256.Sum256(body), out, finished, err, true)
}

// continueSession feeds a later flight to its session.
func (s *Server) continueSession(w http.ResponseWriter, r *http.Request, sid string, body []byte) {
	sess := s.liveSession(w, sid)
	if sess == nil {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	digest := sha256.Sum256(body)
	// The retry check comes before any state check (profile 1.7 and 4.2).
	if answer, ok := sess.cached(digest); ok {
		s.table.touch(sess, s.cfg.Now())
		writeFlight(w, answer, "")
		return
	}
	switch sess.getState() {
	case stateExported:
		writeError(w, errorf(http.StatusBadRequest, "key export is complete: send protected requests, not flights"))
		return
	case stateEnded:
		// Ended by a fatal alert (1.6) or by the peer: only the retry of
		// its last flight is answered (1.7); to anything else the session
		// is as good as gone (1.5: 404).
		writeError(w, errorf(http.StatusNotFound, "session has ended"))
		return
	}
	if len(body) > 0 {
		if err := checkFlight(body); err != nil {
			writeError(w, errorf(http.StatusBadRequest, "%v", err))
			return
		}
	}
	sess.outer = r
	s.table.begin(sess, s.cfg.Now())
	out, finished, err := sess.eng.step(body, s.cfg.FlightTimeout)
	s.conclude(w, r, sess, digest, out, finished, err, false)
}

// conclude turns the result of one engine step into the HTTP answer and the
// session's next state. The caller holds sess.mu.
func (s *Server) conclude(w http.ResponseWriter, r *http.Request, sess *session, digest [sha256.Size]byte, out []byte, finished bool, stepErr error, first bool) {
	sess.outer = nil
	fail := func(err error) {
		// A session that fails erases what it exported: its client never
		// got the server's carrier.
		s.endSession(sess, true)
		writeError(w, err)
	}
	switch {
	case stepErr != nil:
		fail(errorf(http.StatusGatewayTimeout, "%v", stepErr))
		return
	case sess.failure != nil:
		fail(sess.failure)
		return
	case finished && sess.exportedID != nil:
		s.table.setState(sess, stateExported)
		sess.release()
	case finished:
		// The handshake failed (out holds the alert, profile 1.6) or the
		// peer closed the connection.
		s.table.setState(sess, stateEnded)
		sess.release()
	case sess.handshakeDone.Load():
		if sess.exporting() {
			fail(errorf(http.StatusBadRequest, "no connection-ID carrier in the flight that completed the handshake"))
			return
		}
		if !sess.awaitingInner.Load() {
			fail(errorf(http.StatusBadRequest, "incomplete inner HTTP request"))
			return
		}
		s.table.setState(sess, stateEstablished)
	}
	sess.remember(digest, out)
	s.table.touch(sess, s.cfg.Now())
	cookie := ""
	if first {
		cookie = s.cookie(r, sess.sid)
	}
	writeFlight(w, out, cookie)
}

// endSession removes a session and releases its TLS state. With
// eraseContext it also deletes the context the session exported (DELETE,
// 1.8, and a session that failed after its export); a session that merely
// expires leaves its context to live its own lifetime, Lifetimes.Context
// (1.9): a pledge told to come back in a minute must find it. The caller
// holds sess.mu.
func (s *Server) endSession(sess *session, eraseContext bool) {
	s.table.remove(sess)
	sess.release()
	if eraseContext && sess.exportedID != nil {
		s.contexts.drop(sess.exportedID)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if !s.releaseErases {
			if err := s.cfg.Sink.DeleteContext(ctx, sess.exportedID); err != nil {
				s.cfg.Logger.Warn("atls: deleting exported context", "err", err)
			}
		}
		if err := s.cfg.CIDs.ReleaseCID(ctx, sess.exportedID); err != nil {
			s.cfg.Logger.Warn("atls: releasing connection ID", "err", err)
		}
		sess.exportedID = nil
	}
}

// sameObject reports whether a and b hold the same comparable value (the
// same store behind two interfaces).
func sameObject(a, b any) bool {
	t := reflect.TypeOf(a)
	return t != nil && t == reflect.TypeOf(b) && t.Comparable() && a == b
}

// deleteSession implements DELETE (profile 1.8).
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	sid, ok := sessionCookie(r)
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "no session cookie"))
		return
	}
	if !s.owns(w, r, sid) {
		return
	}
	sess := s.liveSession(w, sid)
	if sess == nil {
		return
	}
	sess.mu.Lock()
	s.endSession(sess, true)
	sess.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// liveSession returns the live session sid names, or answers 404.
func (s *Server) liveSession(w http.ResponseWriter, sid string) *session {
	sess, expired := s.table.get(sid, s.cfg.Now())
	s.cleanup(expired)
	if sess == nil {
		writeError(w, errorf(http.StatusNotFound, "unknown or expired session"))
	}
	return sess
}

// cleanup releases the TLS state of expired sessions already removed from
// the table, keeping their exported contexts (1.9). It waits for a POST in
// progress, so it runs in the background; the WaitGroup says when it is
// done.
func (s *Server) cleanup(sessions []*session) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, sess := range sessions {
		wg.Go(func() {
			sess.mu.Lock()
			defer sess.mu.Unlock()
			s.endSession(sess, false)
		})
	}
	return &wg
}

// maybeSweep sweeps expired sessions at most once a second.
func (s *Server) maybeSweep() {
	now := s.cfg.Now()
	last := s.lastSweep.Load()
	if now.UnixNano()-last < int64(time.Second) || !s.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	s.cleanup(s.table.sweep(now))
}

// cookie is the Set-Cookie of profile 1.2. It is Secure when the public
// URL is https: when SecureCookie says so, when this server terminated TLS
// itself, or when a trusted proxy reports X-Forwarded-Proto https. A
// client that fakes that header only restricts its own cookie.
func (s *Server) cookie(r *http.Request, sid string) string {
	attrs := s.cookieAttrs
	if s.cfg.SecureCookie || r.TLS != nil || forwardedHTTPS(r, s.cfg.TrustedProxies) {
		attrs = s.secureCookieAttrs
	}
	// A sid is base64url, which a cookie value holds unchanged.
	return cookieName + "=" + sid + attrs
}

// cookieAttributes renders, once per server, what follows "atls=<sid>" in
// the Set-Cookie: Path, HttpOnly, SameSite and, when secure, Secure, as
// http.Cookie writes them.
func cookieAttributes(path string, secure bool) string {
	const value = "v"
	c := &http.Cookie{Name: cookieName, Value: value, Path: path, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure}
	return strings.TrimPrefix(c.String(), cookieName+"="+value)
}

const cookieName = "atls"

// sessionCookie returns the atls cookie; other cookies are ignored (1.2).
func sessionCookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// Header values every flight answer carries, shared by all answers
// (net/http only reads them).
var (
	flightContentType = []string{ContentTypeATLS}
	flightNoStore     = []string{"no-store"}
)

func writeFlight(w http.ResponseWriter, flight []byte, cookie string) {
	h := w.Header()
	h["Content-Type"] = flightContentType
	h["Cache-Control"] = flightNoStore
	if cookie != "" {
		h.Set("Set-Cookie", cookie)
	}
	// A flight is complete before it is written: with its length known,
	// net/http sends it in one piece instead of chunking anything over
	// 2 kB, and the client sizes its buffer from Content-Length.
	h["Content-Length"] = []string{strconv.Itoa(len(flight))}
	w.WriteHeader(http.StatusOK)
	w.Write(flight)
}

func localAddr(r *http.Request) net.Addr {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a
	}
	return &net.TCPAddr{}
}

func remoteAddr(r *http.Request) net.Addr {
	// net/http and the CoAP binding give an IP literal and port; parsing
	// it needs none of ResolveTCPAddr's resolver machinery.
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	if a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		return a
	}
	return &net.TCPAddr{}
}

// isKeyExport reports whether proto is one of the architecture-2 modes.
func isKeyExport(proto string) bool {
	return proto == ProtoOSCORE || proto == ProtoCOSE
}
