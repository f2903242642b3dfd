package sandbox_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/oscore"
)

// testSecurityATLS: the ATLS layer of issue 11 (items 3, 4, 5, 11, 13, 14)
// against a two-replica deployment behind the in-process load balancer,
// which connects from 127.0.0.1 (a trusted proxy) and names the client in
// X-Forwarded-For. Clients dial the balancer from their own loopback
// addresses, so each is its own rate-limit key.
func testSecurityATLS(t *testing.T) {
	d := testdeploy.Start(t)
	e := &atlsEnv{t: t, d: d}

	t.Run("3/context-lifetime-is-its-own", e.contextLifetime)
	t.Run("3/context-deleted-pledge-rehandshakes", e.contextDeletedRehandshake)
	t.Run("4/self-signed-handshakes-store-nothing", e.selfSignedStoresNothing)
	t.Run("5/spoofed-forwarded-for-is-not-the-key", e.spoofedForwardedFor)
	t.Run("11/unknown-kid-401", e.unknownKid)
	t.Run("14/alert-then-404", e.alertThen404)
	t.Run("14/replay-401-while-cached", e.replayWhileCached)
	t.Run("14/secure-cookie-behind-https", e.secureCookie)
	// The flood last but one: it leaves each replica full of abandoned
	// half-open sessions, which the drain row then must not wait for.
	t.Run("4/flood-429", e.flood)
	t.Run("13/drain-ignores-abandoned-handshakes", e.drainIgnoresAbandoned)
}

type atlsEnv struct {
	t *testing.T
	d *sandbox.Deployment
}

// from is an HTTP client of the load balancer dialing from source
// address ip (127.0.0.x).
func (e *atlsEnv) from(ip string) *http.Client {
	tr := e.d.LB.Client().Transport.(*http.Transport).Clone()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr.DialContext = dialer.DialContext
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

func (e *atlsEnv) url() string { return e.d.LB.URL + atls.DefaultPath }

// count is the number of rows of table (of the registrar database).
func (e *atlsEnv) count(t *testing.T, table string) int {
	t.Helper()
	return testkit.Count(t, e.d.Pool(), table)
}

// post sends body to the ATLS resource through hc.
func post(t *testing.T, hc *http.Client, url, contentType, cookie string, hdr http.Header, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if cookie != "" {
		req.Header.Set("Cookie", "atls="+cookie)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func wantAnswer(t *testing.T, resp *http.Response, body []byte, status int, reason string) {
	t.Helper()
	if resp.StatusCode != status || !strings.Contains(string(body), reason) {
		t.Fatalf("answer %d %q, want %d %q", resp.StatusCode, body, status, reason)
	}
}

// clientHello is one real ClientHello flight from crypto/tls, captured
// over a memory pipe.
func clientHello(t *testing.T, protos ...string) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go tls.Client(c1, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, NextProtos: protos}).Handshake()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c2, hdr); err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, 5+(int(hdr[3])<<8|int(hdr[4])))
	copy(rec, hdr)
	if _, err := io.ReadFull(c2, rec[5:]); err != nil {
		t.Fatal(err)
	}
	return rec
}

// handshakeCounter counts the ATLS sessions a pledge starts: flights
// without the session cookie.
type handshakeCounter struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *handshakeCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == atls.ContentTypeATLS && r.Header.Get("Cookie") == "" {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

func (e *atlsEnv) pledgeClient() *atls.Client {
	return &atls.Client{URL: e.url(), HTTP: e.from("127.0.0.5"), Protocols: []string{atls.ProtoOSCORE}, Provisional: true}
}

// deviceSession is an ATLS session of a new device serial, sold to the
// deployment's domain, through the balancer.
func (e *atlsEnv) deviceSession(t *testing.T, serial string) *atls.ClientSession {
	t.Helper()
	ctx := context.Background()
	idevid, err := e.d.NewDevice(ctx, serial, true)
	if err != nil {
		t.Fatal(err)
	}
	c := e.pledgeClient()
	c.TLS = &tls.Config{Certificates: []tls.Certificate{idevid}}
	sess, err := c.Handshake(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// contextLifetime: the stored context lives Lifetimes.Context (24 h,
// profile 1.9), not the 30 s of the handshake session that exported it.
func (e *atlsEnv) contextLifetime(t *testing.T) {
	ctx := context.Background()
	sess := e.deviceSession(t, "ATLS-LIFE-1")
	defer sess.Close(ctx)
	var life, reserved time.Duration
	err := e.d.Pool().QueryRow(ctx, `SELECT c.expires_at - c.created_at, r.expires_at - c.created_at
		FROM atls_contexts c JOIN atls_cids r ON r.cid = c.recipient_id WHERE c.recipient_id = $1`,
		sess.Exported().SenderID).Scan(&life, &reserved)
	if err != nil {
		t.Fatal(err)
	}
	if life != atls.DefaultLifetimes.Context || reserved != life {
		t.Fatalf("context lives %v, its CID is reserved %v; want %v", life, reserved, atls.DefaultLifetimes.Context)
	}
}

// contextDeletedRehandshake: the registrar loses every context in the
// middle of an onboarding; the pledge gets 401 Security context not found,
// runs one new handshake and onboards.
func (e *atlsEnv) contextDeletedRehandshake(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{pledge.ModeATLSOSCORE, pledge.ModeATLSCOSE} {
		serial := "ATLS-RENEW-" + mode
		idevid, err := e.d.NewDevice(ctx, serial, true)
		if err != nil {
			t.Fatal(err)
		}
		cfg := e.d.PledgeConfig(mode, idevid)
		counter := &handshakeCounter{next: e.from("127.0.0.6").Transport}
		cfg.HTTP = &http.Client{Transport: counter}
		var deleted atomic.Int64
		cfg.Progress = func(s pledge.Step) {
			if s.Name == "requestvoucher" && s.Err == nil {
				tag, err := e.d.Pool().Exec(ctx, `DELETE FROM atls_cids WHERE cid IN (SELECT recipient_id FROM atls_contexts)`)
				if err == nil {
					deleted.Add(tag.RowsAffected())
				}
			}
		}
		res, err := pledge.Onboard(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: onboarding after the context was deleted: %v", mode, err)
		}
		if deleted.Load() != 1 || counter.n.Load() != 2 {
			t.Fatalf("%s: %d contexts deleted, %d handshakes; want 1 and 2", mode, deleted.Load(), counter.n.Load())
		}
		if res.Certificate.Subject.SerialNumber != serial {
			t.Fatalf("%s: certificate for %v", mode, res.Certificate.Subject)
		}
		p, err := e.d.Store.FindPledge(ctx, e.d.ManufacturerID, serial)
		if err != nil {
			t.Fatal(err)
		}
		if certs, err := e.d.Store.ListCertificates(ctx, p.ID); err != nil || len(certs) != 1 {
			t.Fatalf("%s: %d certificate rows (%v)", mode, len(certs), err)
		}
	}
}

// selfSignedStoresNothing: 20 handshakes with self-signed client
// certificates are refused once complete (403) and leave no context.
func (e *atlsEnv) selfSignedStoresNothing(t *testing.T) {
	ctx := context.Background()
	before := e.count(t, "atls_contexts")
	for i := range 20 {
		c := e.pledgeClient()
		c.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t, fmt.Sprintf("SELF-%02d", i))}}
		c.Protocols = []string{[]string{atls.ProtoOSCORE, atls.ProtoCOSE}[i%2]}
		_, err := c.Handshake(ctx)
		var se *atls.StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden || !strings.Contains(se.Reason, "trusted manufacturer") {
			t.Fatalf("self-signed handshake %d: %v", i, err)
		}
	}
	if n := e.count(t, "atls_contexts"); n != before {
		t.Fatalf("20 self-signed handshakes left %d stored contexts", n-before)
	}
}

func selfSigned(t *testing.T, cn string) tls.Certificate {
	c, key := testkit.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, SerialNumber: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}, nil, nil)
	return testkit.TLSCert(c, key)
}

// flood sends n copies of one ClientHello from ip, concurrently, and
// counts the answers by status and 429 reason.
func (e *atlsEnv) flood(t *testing.T) {
	ctx := context.Background()
	idevid, err := e.d.NewDevice(ctx, "ATLS-FLOOD-VICTIM", true)
	if err != nil {
		t.Fatal(err)
	}
	ch := clientHello(t, atls.ProtoOSCORE)
	flooder := e.from("127.0.0.2")
	const n = 1100
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		reasons  = map[string]int{}
		next     atomic.Int64
		first429 = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= n {
				resp, body := post(t, flooder, e.url(), atls.ContentTypeATLS, "", nil, ch)
				mu.Lock()
				statuses[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests {
					reasons[strings.TrimSpace(string(body))]++
					if resp.Header.Get("Retry-After") == "" {
						t.Error("429 without Retry-After")
					}
					once.Do(func() { close(first429) })
				}
				mu.Unlock()
			}
		})
	}
	// The device onboards from another address while the flood goes on.
	<-first429
	cfg := e.d.PledgeConfig(pledge.ModeATLSOSCORE, idevid)
	cfg.HTTP = e.from("127.0.0.3")
	res, err := pledge.Onboard(ctx, cfg)
	wg.Wait()
	if err != nil {
		t.Fatalf("the device did not onboard during the flood: %v", err)
	}
	if res.Certificate.Subject.SerialNumber != "ATLS-FLOOD-VICTIM" {
		t.Fatalf("certificate for %v", res.Certificate.Subject)
	}
	t.Logf("flood of %d ClientHellos from 127.0.0.2: statuses %v, 429 reasons %v", n, statuses, reasons)
	if statuses[200]+statuses[429] != n || statuses[429] == 0 {
		t.Fatalf("flood answers %v, want only 200 and 429", statuses)
	}
	// The per-client cap holds the flooder to its share of each replica.
	if max := len(e.d.Replicas) * atls.DefaultMaxHandshakesPerClient; statuses[200] > max {
		t.Fatalf("the flooder opened %d sessions, more than %d", statuses[200], max)
	}
	for r := range reasons {
		if r != "too many handshakes in progress from this client" && r != "too many new sessions from this client" {
			t.Fatalf("429 reason %q", r)
		}
	}
	// The flooder's half-open sessions hold no context; the device closed
	// its own.
	if n := e.count(t, "atls_contexts"); n != 0 {
		t.Fatalf("%d contexts stored after the flood", n)
	}
}

// spoofedForwardedFor: a client that writes its own X-Forwarded-For,
// different on every request, is still keyed by the address the load
// balancer saw: it meets the per-client cap like any other.
func (e *atlsEnv) spoofedForwardedFor(t *testing.T) {
	ch := clientHello(t, atls.ProtoOSCORE)
	spoofer := e.from("127.0.0.4")
	limit := len(e.d.Replicas) * atls.DefaultMaxHandshakesPerClient
	var ok, refused int
	for i := range limit + 40 {
		hdr := http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d, 127.0.0.1", i%250)}}
		resp, body := post(t, spoofer, e.url(), atls.ContentTypeATLS, "", hdr, ch)
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
			wantAnswer(t, resp, body, 429, "from this client")
		default:
			t.Fatalf("answer %d %q", resp.StatusCode, body)
		}
	}
	if ok > limit || refused == 0 {
		t.Fatalf("a spoofing client opened %d sessions (%d refused), the cap is %d", ok, refused, limit)
	}
}

// unknownKid: protected requests with a kid no replica knows get 401
// Security context not found and change nothing.
func (e *atlsEnv) unknownKid(t *testing.T) {
	hc := e.from("127.0.0.7")
	before := e.count(t, "atls_contexts")
	hdr := http.Header{oscore.HeaderName: {oscore.EncodeHeader(oscore.Option{PIV: []byte{0}, KID: []byte{0xde, 0xad, 0xbe, 0xef}}.Marshal())}}
	for range 50 {
		resp, body := post(t, hc, e.url(), oscore.MediaType, "", hdr, []byte{1, 2, 3, 4})
		wantAnswer(t, resp, body, 401, "Security context not found")
	}
	if n := e.count(t, "atls_contexts"); n != before {
		t.Fatalf("contexts %d -> %d", before, n)
	}
}

// alertThen404: a handshake that ends in an alert (no ALPN overlap, 1.6)
// is answered 200 with the alert; any other flight on that session is 404
// on every replica (1.5).
func (e *atlsEnv) alertThen404(t *testing.T) {
	hc := e.from("127.0.0.8")
	resp, alert := post(t, hc, e.url(), atls.ContentTypeATLS, "", nil, clientHello(t, "h2"))
	if resp.StatusCode != 200 || len(alert) == 0 || alert[0] != 21 {
		t.Fatalf("answer %d % x, want 200 with an alert record", resp.StatusCode, alert)
	}
	var sid string
	for _, c := range resp.Cookies() {
		if c.Name == "atls" {
			sid = c.Value
		}
	}
	if sid == "" {
		t.Fatal("no session cookie")
	}
	for range len(e.d.Replicas) { // round robin: the owner and the forwarding one
		resp, body := post(t, hc, e.url(), atls.ContentTypeATLS, sid, nil, []byte{23, 3, 3, 0, 1, 0})
		wantAnswer(t, resp, body, 404, "session has ended")
	}
}

// replayWhileCached: a Partial IV already seen is 401 Replay detected
// before decryption, on every replica, also with garbage ciphertext while
// the replicas have the context cached (5.7); the stored window is as the
// one genuine request left it.
func (e *atlsEnv) replayWhileCached(t *testing.T) {
	ctx := context.Background()
	sess := e.deviceSession(t, "ATLS-REPLAY-1")
	defer sess.Close(ctx)
	octx, err := oscore.NewContext(sess.Exported().Params())
	if err != nil {
		t.Fatal(err)
	}
	msg := &oscore.Message{Code: oscore.GET}
	for _, seg := range []string{".well-known", "est", "cacerts"} {
		msg.Add(oscore.OptUriPath, []byte(seg))
	}
	opt, ct, _, err := octx.ProtectRequest(msg.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{oscore.HeaderName: {oscore.EncodeHeader(opt)}}
	hc := e.from("127.0.0.9")
	if resp, body := post(t, hc, e.url(), oscore.MediaType, "", hdr, ct); resp.StatusCode != 200 {
		t.Fatalf("genuine request: %d %q", resp.StatusCode, body)
	}
	garbage := bytes.Clone(ct)
	garbage[0] ^= 0xff
	for range 2 * len(e.d.Replicas) {
		resp, body := post(t, hc, e.url(), oscore.MediaType, "", hdr, garbage)
		wantAnswer(t, resp, body, 401, "Replay detected")
	}
	var high, bitmap int64
	if err := e.d.Pool().QueryRow(ctx, `SELECT replay_high, replay_bitmap FROM atls_contexts WHERE recipient_id = $1`,
		sess.Exported().SenderID).Scan(&high, &bitmap); err != nil {
		t.Fatal(err)
	}
	if high != 0 || bitmap != 1 {
		t.Fatalf("replay window high %d bitmap %b, want 0 and 1", high, bitmap)
	}
}

// secureCookie: behind the https load balancer the atls cookie is Secure
// (1.2), learnt from the trusted balancer's X-Forwarded-Proto.
func (e *atlsEnv) secureCookie(t *testing.T) {
	resp, _ := post(t, e.from("127.0.0.10"), e.url(), atls.ContentTypeATLS, "", nil, clientHello(t, atls.ProtoOSCORE))
	sc := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 200 || !strings.HasPrefix(sc, "atls=") || !strings.Contains(sc, "; Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("answer %d, Set-Cookie %q", resp.StatusCode, sc)
	}
}

// drainIgnoresAbandoned: after the flood each replica holds abandoned
// half-open sessions; waiting for handshakes (what a draining replica
// does) returns once none is progressing, long before they expire.
func (e *atlsEnv) drainIgnoresAbandoned(t *testing.T) {
	for i, rg := range e.d.Replicas {
		if st := rg.ATLS().Stats(); st.Handshakes == 0 {
			t.Fatalf("replica %d holds no half-open session: %+v", i, st)
		}
		// Well within the sessions' 30 s lifetime (profile 1.9): an answer
		// at all shows the wait is not for them.
		ctx, cancel := context.WithTimeout(context.Background(), atls.DefaultLifetimes.HandshakeIdle-5*time.Second)
		err := rg.ATLS().WaitHandshakes(ctx)
		cancel()
		if err != nil {
			t.Fatalf("replica %d: waiting for handshakes: %v (%+v)", i, err, rg.ATLS().Stats())
		}
		if st := rg.ATLS().Stats(); st.Handshakes == 0 || st.ActiveHandshakes != 0 {
			t.Fatalf("replica %d: %+v", i, st)
		}
	}
}
