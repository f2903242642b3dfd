package atls

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTwoServersBehindRoundRobinProxy puts two replicas behind a reverse
// proxy that terminates TLS and alternates between them without stickiness,
// as the deployment's load balancer does. Every second POST of a session
// lands on the replica that does not own it and is forwarded once over the
// replicas' internal listeners.
func TestTwoServersBehindRoundRobinProxy(t *testing.T) {
	pki := newTestPKI(t)
	clock := newFakeClock()
	sink := &memorySink{}
	cids := &MemoryCIDs{}

	internal := map[string]*url.URL{}
	var mu sync.Mutex
	resolve := func(_ context.Context, owner string) (*url.URL, error) {
		mu.Lock()
		defer mu.Unlock()
		if u, ok := internal[owner]; ok {
			return u, nil
		}
		return nil, fmt.Errorf("no replica %q", owner)
	}
	var forwarded atomic.Int64
	var public []*url.URL
	for _, id := range []string{"replica-a", "replica-b"} {
		h := &harness{pki: pki, clock: clock, sink: sink, cids: cids}
		cfg := h.config()
		cfg.ReplicaID = id
		cfg.Forwarder = &HTTPForwarder{Self: id, Client: &http.Client{}, Resolve: resolve}
		srv, err := NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		pub := httptest.NewServer(srv)
		t.Cleanup(pub.Close)
		in := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			forwarded.Add(1)
			srv.ServeHTTP(w, r)
		}))
		t.Cleanup(in.Close)
		u, _ := url.Parse(pub.URL)
		public = append(public, u)
		iu, _ := url.Parse(in.URL)
		mu.Lock()
		internal[id] = iu
		mu.Unlock()
	}

	var next atomic.Uint64
	lb := httptest.NewTLSServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(public[next.Add(1)%2])
			pr.SetXForwarded()
		},
	})
	t.Cleanup(lb.Close)

	client := func(protos ...string) *Client {
		h := &harness{pki: pki, ts: lb}
		c := h.client(protos...)
		c.URL = lb.URL + DefaultPath
		c.HTTP = lb.Client() // trusts the load balancer's certificate
		return c
	}
	ctx := context.Background()
	for i := range 4 {
		sess, err := client(ProtoRecords).Handshake(ctx)
		if err != nil {
			t.Fatalf("records session %d: %v", i, err)
		}
		hc := &http.Client{Transport: sess}
		for j := range 3 {
			resp, err := hc.Post("https://registrar.example/echo", "text/plain", strings.NewReader(fmt.Sprint(j)))
			if err != nil {
				t.Fatalf("session %d request %d: %v", i, j, err)
			}
			got, _ := io.ReadAll(resp.Body)
			if want := fmt.Sprintf("pledge-0001 POST /echo %d", j); string(got) != want {
				t.Fatalf("got %q want %q", got, want)
			}
		}
		if err := sess.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, proto := range []string{ProtoOSCORE, ProtoCOSE, ProtoOSCORE} {
		sess, err := client(proto).Handshake(ctx)
		if err != nil {
			t.Fatalf("%s session %d: %v", proto, i, err)
		}
		if sink.get(sess.Exported().SenderID) == nil {
			t.Fatal("exported context missing")
		}
	}
	if forwarded.Load() == 0 {
		t.Fatal("no request was forwarded: the proxy did not alternate")
	}

	// A session whose owner is gone is unknown everywhere: clients start over.
	sess, err := client(ProtoRecords).Handshake(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	internal = map[string]*url.URL{}
	mu.Unlock()
	var lastErr error
	for range 2 { // one of the two lands on the non-owner
		_, lastErr = (&http.Client{Transport: sess}).Get("https://registrar.example/x")
		if lastErr != nil {
			break
		}
	}
	var se *StatusError
	if !errorsAs(lastErr, &se) || se.StatusCode != 404 {
		t.Fatalf("request for a vanished owner's session: %v", lastErr)
	}
}
