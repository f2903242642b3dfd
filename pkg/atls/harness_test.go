package atls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeClock drives the lifetimes of profile 1.9 in tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// memorySink records exported contexts by the server's Recipient ID.
type memorySink struct {
	mu   sync.Mutex
	byID map[string]*ExportedContext
	fail error
}

func (m *memorySink) StoreContext(_ context.Context, ec *ExportedContext) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.byID == nil {
		m.byID = map[string]*ExportedContext{}
	}
	m.byID[string(ec.RecipientID)] = ec
	return nil
}

func (m *memorySink) DeleteContext(_ context.Context, id []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byID, string(id))
	return nil
}

func (m *memorySink) get(id []byte) *ExportedContext {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byID[string(id)]
}

func (m *memorySink) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}

// echoHandler is the inner handler of the tests: it names the client
// certificate the request arrived with and echoes method, path and body.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	peer := "anonymous"
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		peer = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "%s %s %s %s", peer, r.Method, r.URL.RequestURI(), body)
})

type harness struct {
	pki   *testPKI
	clock *fakeClock
	sink  *memorySink
	cids  *MemoryCIDs
	srv   *Server
	ts    *httptest.Server
}

var testSessionKey = bytes.Repeat([]byte{7}, 32)

func (h *harness) config() ServerConfig {
	return ServerConfig{
		TLS: &tls.Config{
			Certificates: []tls.Certificate{h.pki.server},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    h.pki.pool,
		},
		Handler:    echoHandler,
		Sink:       h.sink,
		CIDs:       h.cids,
		SessionKey: testSessionKey,
		ReplicaID:  "r1",
		Now:        h.clock.Now,
	}
}

func newHarness(t testing.TB, mutate func(*ServerConfig)) *harness {
	t.Helper()
	h := &harness{pki: newTestPKI(t), clock: newFakeClock(), sink: &memorySink{}, cids: &MemoryCIDs{}}
	cfg := h.config()
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	mux := http.NewServeMux()
	mux.Handle(DefaultPath, srv)
	h.ts = httptest.NewServer(mux)
	t.Cleanup(func() {
		h.ts.Close()
		srv.Close()
	})
	return h
}

// client returns a pledge with a certificate the server trusts.
func (h *harness) client(protos ...string) *Client {
	return &Client{
		URL:       h.ts.URL + DefaultPath,
		HTTP:      h.ts.Client(),
		Protocols: protos,
		TLS: &tls.Config{
			Certificates: []tls.Certificate{h.pki.client},
			RootCAs:      h.pki.pool,
			ServerName:   "registrar.example",
		},
	}
}

// post sends a raw request to the ATLS resource.
func (h *harness) post(t testing.TB, contentType, cookie string, body []byte) *http.Response {
	t.Helper()
	header := http.Header{}
	if contentType != "" {
		header.Set("Content-Type", contentType)
	}
	return h.postWith(t, header, cookie, body)
}

// postWith sends a raw request with the given header fields, and the
// session cookie unless it is empty, to the ATLS resource.
func (h *harness) postWith(t testing.TB, header http.Header, cookie string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+DefaultPath, bytes.NewReader(body))
	for name, values := range header {
		req.Header[name] = values
	}
	if cookie != "" {
		req.Header.Set("Cookie", "atls="+cookie)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawPledge drives a client TLS engine flight by flight, without the
// Client's HTTP logic, so that tests can replay, truncate and corrupt.
type rawPledge struct {
	t    testing.TB
	conn *flightConn
	tc   *tls.Conn
	eng  *engine
	err  error
}

func newRawPledge(t testing.TB, cfg *tls.Config) *rawPledge {
	p := &rawPledge{t: t, conn: newFlightConn(nil, nil)}
	p.tc = tls.Client(p.conn, cfg)
	p.eng = startEngine(p.conn, func() { p.err = p.tc.Handshake() })
	t.Cleanup(func() { p.eng.stop() })
	return p
}

// next feeds the server's flight and returns the client's answer.
func (p *rawPledge) next(in []byte) ([]byte, bool) {
	var out []byte
	var finished bool
	var err error
	if in == nil {
		out, finished, err = p.eng.wait(10 * time.Second)
	} else {
		out, finished, err = p.eng.step(in, 10*time.Second)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	return out, finished
}

func (h *harness) pledgeTLS(protos ...string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{h.pki.client},
		RootCAs:      h.pki.pool,
		ServerName:   "registrar.example",
		NextProtos:   protos,
		MinVersion:   tls.VersionTLS13,
	}
}

func sidFrom(t testing.TB, resp *http.Response) string {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "atls" {
			return c.Value
		}
	}
	t.Fatalf("no atls cookie in %v", resp.Header)
	return ""
}

var errTestSink = fmt.Errorf("test sink refuses")

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

func mustPrefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}
