package atls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// postFrom sends a flight as a trusted proxy would forward it for client.
func (h *harness) postFrom(t testing.TB, client, cookie string, body []byte) *http.Response {
	t.Helper()
	header := http.Header{}
	header.Set("Content-Type", ContentTypeATLS)
	header.Set("X-Forwarded-For", client)
	return h.postWith(t, header, cookie, body)
}

// TestHandshakesPerClientCap: one client address holding
// MaxHandshakesPerClient half-open sessions gets 429 with Retry-After,
// while another client is still served; a finished handshake frees a slot.
func TestHandshakesPerClientCap(t *testing.T) {
	h := newHarness(t, func(c *ServerConfig) {
		c.MaxHandshakesPerClient = 2
		c.RetryAfter = 2 * time.Second
		c.TrustedProxies = mustPrefixes("127.0.0.0/8")
	})
	p, ch := h.clientHello(t, ProtoRecords)
	resp := h.postFrom(t, "198.51.100.1", "", ch)
	sid := sidFrom(t, resp)
	sh := readAll(t, resp)
	wantStatus(t, h.postFrom(t, "198.51.100.1", "", ch), 200, "")
	resp = h.postFrom(t, "198.51.100.1", "", ch)
	if resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	wantStatus(t, resp, 429, "too many handshakes in progress from this client")
	// Everyone else is served.
	wantStatus(t, h.postFrom(t, "198.51.100.2", "", ch), 200, "")
	if st := h.srv.Stats(); st.Handshakes != 3 || st.Sessions != 3 {
		t.Fatalf("stats %+v", st)
	}
	// Completing one of the flooder's handshakes gives it a slot back.
	fin, _ := p.next(sh)
	wantStatus(t, h.postFrom(t, "198.51.100.1", sid, fin), 200, "")
	wantStatus(t, h.postFrom(t, "198.51.100.1", "", ch), 200, "")
	wantStatus(t, h.postFrom(t, "198.51.100.1", "", ch), 429, "too many handshakes")
	// Expired half-open sessions free their slots too.
	h.clock.Advance(DefaultLifetimes.HandshakeIdle + time.Second)
	wantStatus(t, h.postFrom(t, "198.51.100.1", "", ch), 200, "")
}

// TestRateLimitOnByDefault: a zero RateLimit is DefaultRateLimit (100/s,
// burst 200), and PerSecond < 0 switches it off.
func TestRateLimitOnByDefault(t *testing.T) {
	h := newHarness(t, func(c *ServerConfig) { c.MaxHandshakesPerClient = -1; c.MaxHandshakes = 1000 })
	if got := h.srv.cfg.RateLimit; got != DefaultRateLimit || got.PerSecond != 100 || got.Burst != 200 {
		t.Fatalf("default rate limit %+v", got)
	}
	_, ch := h.clientHello(t)
	for i := range DefaultRateLimit.Burst {
		if resp := h.post(t, ContentTypeATLS, "", ch); readAll(t, resp) == nil || resp.StatusCode != 200 {
			t.Fatalf("session %d: %d", i, resp.StatusCode)
		}
	}
	resp := h.post(t, ContentTypeATLS, "", ch)
	if resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	wantStatus(t, resp, 429, "too many new sessions")
	if st := h.srv.Stats(); st.Handshakes != DefaultRateLimit.Burst {
		t.Fatalf("stats %+v", st)
	}

	off := newHarness(t, func(c *ServerConfig) { c.RateLimit = RateLimit{PerSecond: -1}; c.MaxHandshakesPerClient = -1 })
	for i := range DefaultRateLimit.Burst + 10 {
		if resp := off.post(t, ContentTypeATLS, "", ch); readAll(t, resp) == nil || resp.StatusCode != 200 {
			t.Fatalf("disabled limit, session %d: %d", i, resp.StatusCode)
		}
	}
	// A rate without a burst gets twice the rate.
	r := (RateLimit{PerSecond: 3}).WithDefaults()
	if r.Burst != 6 || r.MaxClients != DefaultRateLimit.MaxClients {
		t.Fatalf("%+v", r)
	}
}

// statusErr is an error with an HTTP meaning, as the registrar's are.
type statusErr struct {
	status int
	after  time.Duration
	msg    string
}

func (e *statusErr) Error() string             { return e.msg }
func (e *statusErr) StatusCode() int           { return e.status }
func (e *statusErr) RetryAfter() time.Duration { return e.after }

// TestVerifyPeerRefuses: a peer VerifyPeer refuses leaves no context and no
// session; the answer is the error's status (403 by default) and reason,
// with no TLS records.
func TestVerifyPeerRefuses(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		status     int
		reason     string
		retryAfter string
	}{
		{"plain error", errors.New("client certificate chains to no trusted manufacturer"), 403, "client certificate chains to no trusted manufacturer", ""},
		{"status error", &statusErr{status: 401, msg: "unknown device"}, 401, "unknown device", ""},
		{"store down", &statusErr{status: 503, after: 7 * time.Second, msg: "pool: connection refused"}, 503, "cannot verify the client certificate now", "7"},
	}
	for _, proto := range []string{ProtoOSCORE, ProtoCOSE, ProtoRecords} {
		for _, c := range cases {
			t.Run(proto+"/"+c.name, func(t *testing.T) {
				var seen atomic.Value
				h := newHarness(t, func(cfg *ServerConfig) {
					cfg.VerifyPeer = func(ctx context.Context, cs tls.ConnectionState) error {
						if ctx == nil || !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 {
							return errors.New("VerifyPeer called before the handshake completed")
						}
						seen.Store(cs.PeerCertificates[0].Subject.CommonName)
						return c.err
					}
				})
				p, ch := h.clientHello(t, proto)
				resp := h.post(t, ContentTypeATLS, "", ch)
				sid := sidFrom(t, resp)
				fin, _ := p.next(readAll(t, resp))
				if proto != ProtoRecords {
					p.tc.Write(appendCarrier(nil, carrierType(proto), []byte{1}))
					fin = append(fin, p.conn.take()...)
				}
				resp = h.post(t, ContentTypeATLS, sid, fin)
				if resp.Header.Get("Retry-After") != c.retryAfter {
					t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
				}
				wantStatus(t, resp, c.status, c.reason)
				if seen.Load() != "pledge-0001" {
					t.Fatalf("VerifyPeer saw %v", seen.Load())
				}
				if h.sink.len() != 0 {
					t.Fatal("a refused peer's context was stored")
				}
				if st := h.srv.Stats(); st.Sessions != 0 || st.Handshakes != 0 {
					t.Fatalf("a refused peer's session was kept: %+v", st)
				}
				wantStatus(t, h.post(t, ContentTypeATLS, sid, fin), 404, "unknown")
			})
		}
	}
	// Through the Client the refusal is a StatusError; an accepted peer
	// gets its context.
	h := newHarness(t, func(cfg *ServerConfig) {
		cfg.VerifyPeer = func(_ context.Context, cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || cs.PeerCertificates[0].Subject.CommonName != "pledge-0001" {
				return errors.New("refused")
			}
			return nil
		}
	})
	if _, err := h.client(ProtoOSCORE).Handshake(context.Background()); err != nil || h.sink.len() != 1 {
		t.Fatalf("accepted peer: %v, %d contexts", err, h.sink.len())
	}
	c := h.client(ProtoOSCORE)
	c.TLS.Certificates = []tls.Certificate{h.pki.stranger}
	_, err := c.Handshake(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 403 || se.Reason != "refused" || h.sink.len() != 1 {
		t.Fatalf("refused peer: %v, %d contexts", err, h.sink.len())
	}
}

// countingStore counts the store lookups protected requests cause.
type countingStore struct {
	oscore.ContextStore
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, kid []byte) (*oscore.StoredContext, error) {
	s.gets.Add(1)
	return s.ContextStore.Get(ctx, kid)
}

// fixedCIDs allocates one known CID, so that a test can ask for it before
// its context exists.
type fixedCIDs struct{ cid []byte }

func (f fixedCIDs) AllocateCID(context.Context, int) ([]byte, error) { return f.cid, nil }
func (f fixedCIDs) ReleaseCID(context.Context, []byte) error         { return nil }

// TestUnknownKidCostsOneLookup: N protected requests with the same unknown
// kid cost one store lookup (item 11); after the miss TTL the store is
// asked again, so a context another replica created meanwhile is found,
// and one this replica created is found at once.
func TestUnknownKidCostsOneLookup(t *testing.T) {
	mem := &oscore.MemoryStore{}
	store := &countingStore{ContextStore: mem}
	cid := []byte{9, 9, 9, 9}
	a := newHarness(t, func(c *ServerConfig) { c.Sink, c.Contexts, c.CIDs = nil, store, fixedCIDs{cid} })
	mem.Now = a.clock.Now
	b := newHarness(t, func(c *ServerConfig) { c.Sink, c.Contexts, c.CIDs = nil, store, fixedCIDs{cid} })
	b.clock = a.clock
	b.srv.cfg.Now = a.clock.Now

	hdr := oscore.EncodeHeader(oscore.Option{PIV: []byte{0}, KID: cid}.Marshal())
	const n = 25
	for _, h := range []*harness{a, b} {
		for range n {
			wantStatus(t, h.rawProtected(t, oscore.MediaType, hdr, []byte{1, 2, 3}), 401, "Security context not found")
		}
	}
	if got := store.gets.Load(); got != 2 {
		t.Fatalf("%d requests with one unknown kid on two replicas cost %d lookups, want 2", 2*n, got)
	}

	// A handshake on A stores a context under that kid: A finds it at once.
	sess, err := a.client(ProtoOSCORE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sess.Exported().SenderID, cid) {
		t.Fatalf("client Sender ID %x", sess.Exported().SenderID)
	}
	tr, _ := sess.Transport()
	if resp, err := (&http.Client{Transport: tr}).Get("https://r.example/a"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("through the replica that stored it: %v", err)
	}
	// B still remembers the miss for at most the TTL, then finds it.
	tr.(*protectedTransport).session = &ClientSession{client: b.client(), exported: sess.exported}
	b.clock.Advance(2 * time.Second)
	if resp, err := (&http.Client{Transport: tr}).Get("https://r.example/b"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("through the other replica after the miss TTL: %v", err)
	}
}

// TestClientAddressIgnoresSpoofedForwardedFor: the key is the rightmost
// X-Forwarded-For hop that is not a trusted proxy; whatever a client puts
// to the left of it, or sends to a server that does not trust its peer,
// never becomes the key.
func TestClientAddressIgnoresSpoofedForwardedFor(t *testing.T) {
	lb := mustPrefixes("10.0.0.0/8")
	all := mustPrefixes("0.0.0.0/0", "::/0")
	req := func(remote string, xff ...string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = remote
		for _, v := range xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		return r
	}
	cases := []struct {
		name    string
		trusted []netip.Prefix
		r       *http.Request
		want    string
	}{
		{"untrusted peer ignores the header", lb, req("192.0.2.1:5000", "198.51.100.7"), "192.0.2.1"},
		{"untrusted peer with a spoofed trusted hop", lb, req("192.0.2.1:5000", "10.9.9.9"), "192.0.2.1"},
		{"one load balancer", lb, req("10.1.1.1:5000", "198.51.100.7"), "198.51.100.7"},
		{"client-chosen leftmost entry", lb, req("10.1.1.1:5000", "203.0.113.9, 198.51.100.7"), "198.51.100.7"},
		{"many spoofed entries", lb, req("10.1.1.1:5000", "1.1.1.1, 2.2.2.2, 3.3.3.3, 198.51.100.7"), "198.51.100.7"},
		{"spoofed trusted-looking entries", lb, req("10.1.1.1:5000", "10.0.0.1, 10.0.0.2, 198.51.100.7"), "198.51.100.7"},
		{"spoof in a separate header line", lb, req("10.1.1.1:5000", "203.0.113.9", "198.51.100.7"), "198.51.100.7"},
		{"proxy chain", lb, req("10.1.1.1:5000", "203.0.113.9, 198.51.100.7, 10.2.2.2"), "198.51.100.7"},
		{"spoof behind a proxy chain", lb, req("10.1.1.1:5000", "10.3.3.3, 198.51.100.7, 10.2.2.2"), "198.51.100.7"},
		{"no header", lb, req("10.1.1.1:5000"), "10.1.1.1"},
		{"garbage next to the proxy", lb, req("10.1.1.1:5000", "203.0.113.9, garbage"), "10.1.1.1"},
		{"IPv4-mapped", lb, req("[::ffff:10.1.1.1]:5000", "::ffff:198.51.100.7"), "198.51.100.7"},
		// Over-broad trust: the entry the load balancer wrote, never the
		// client's own.
		{"trust-all, spoofed leftmost", all, req("10.1.1.1:5000", "203.0.113.9, 198.51.100.7"), "198.51.100.7"},
		{"trust-all, many spoofed", all, req("10.1.1.1:5000", "1.1.1.1, 2.2.2.2, 198.51.100.7"), "2.2.2.2"},
		{"trust-all, no spoof", all, req("10.1.1.1:5000", "198.51.100.7"), "198.51.100.7"},
	}
	for _, c := range cases {
		if got := clientAddress(c.r, c.trusted); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

// TestWaitHandshakes: an abandoned half-open session does not hold the
// wait; one still progressing does until it finishes.
func TestWaitHandshakes(t *testing.T) {
	h := newHarness(t, nil)
	// Abandoned: a ClientHello and nothing since.
	_, ch := h.clientHello(t)
	readAll(t, h.post(t, ContentTypeATLS, "", ch))
	if st := h.srv.Stats(); st.Handshakes != 1 || st.ActiveHandshakes != 1 {
		t.Fatalf("stats %+v", st)
	}
	h.clock.Advance(HandshakeStall + time.Second)
	if st := h.srv.Stats(); st.Handshakes != 1 || st.ActiveHandshakes != 0 {
		t.Fatalf("abandoned session still active: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.srv.WaitHandshakes(ctx); err != nil {
		t.Fatalf("an abandoned half-open session held the wait: %v", err)
	}

	// Progressing: its ClientHello was just answered.
	p, ch := h.clientHello(t)
	resp := h.post(t, ContentTypeATLS, "", ch)
	sid := sidFrom(t, resp)
	sh := readAll(t, resp)
	done := make(chan error, 1)
	go func() { done <- h.srv.WaitHandshakes(ctx) }()
	fin, _ := p.next(sh)
	select {
	case err := <-done:
		t.Fatalf("returned (%v) while a handshake was progressing", err)
	default:
	}
	if st := h.srv.Stats(); st.ActiveHandshakes != 1 {
		t.Fatalf("stats %+v", st)
	}
	wantStatus(t, h.post(t, ContentTypeATLS, sid, fin), 200, "")
	if err := <-done; err != nil {
		t.Fatalf("wait after the handshake finished: %v", err)
	}
	if st := h.srv.Stats(); st.ActiveHandshakes != 0 || st.Handshakes != 1 {
		t.Fatalf("stats %+v", st)
	}

	// A wait for a progressing handshake ends with its context.
	_, ch = h.clientHello(t)
	readAll(t, h.post(t, ContentTypeATLS, "", ch))
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := h.srv.WaitHandshakes(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}
