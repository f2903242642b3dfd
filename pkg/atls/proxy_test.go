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

	"github.com/landfall-io/landfall/pkg/oscore"
)

// TestTwoServersBehindRoundRobinProxy puts two replicas behind a reverse
// proxy that terminates TLS and alternates between them without stickiness,
// as the deployment's load balancer does. Every second POST of a session
// lands on the replica that does not own it and is forwarded once over the
// replicas' internal listeners.
func TestTwoServersBehindRoundRobinProxy(t *testing.T) {
	pki := newTestPKI(t)
	clock := newFakeClock()
	store := &oscore.MemoryStore{Now: clock.Now} // shared, as PostgreSQL is
	cids := &MemoryCIDs{}
	var served sync.Map // replica id -> *atomic.Int64 of inner requests

	internal := map[string]*url.URL{}
	var mu sync.Mutex
	resolve := func(_ context.Context, owner string) (*url.URL, error) {
		mu.Lock()
		defer mu.Unlock()
		if u, ok := internal[owner]; ok {
			return u, nil
		}
		return nil, fmt.Errorf("no replica %q: %w", owner, ErrUnknownOwner)
	}
	var forwarded atomic.Int64
	var public []*url.URL
	for _, id := range []string{"replica-a", "replica-b"} {
		h := &harness{pki: pki, clock: clock, cids: cids}
		cfg := h.config()
		cfg.Sink, cfg.Contexts = nil, store
		count := new(atomic.Int64)
		served.Store(id, count)
		cfg.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			count.Add(1)
			echoHandler(w, r)
		})
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
	// Key-export sessions: after the handshake any replica serves the
	// protected requests, from the shared context store.
	servedBy := func() (a, b int64) {
		va, _ := served.Load("replica-a")
		vb, _ := served.Load("replica-b")
		return va.(*atomic.Int64).Load(), vb.(*atomic.Int64).Load()
	}
	a0, b0 := servedBy()
	for i, proto := range []string{ProtoOSCORE, ProtoCOSE, ProtoOSCORE} {
		sess, err := client(proto).Handshake(ctx)
		if err != nil {
			t.Fatalf("%s session %d: %v", proto, i, err)
		}
		tr, err := sess.Transport()
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: tr}
		for j := range 4 {
			resp, err := hc.Post("https://registrar.example/echo", "text/plain", strings.NewReader(fmt.Sprint(j)))
			if err != nil {
				t.Fatalf("%s request %d: %v", proto, j, err)
			}
			got, _ := io.ReadAll(resp.Body)
			if want := fmt.Sprintf("pledge-0001 POST /echo %d", j); string(got) != want {
				t.Fatalf("got %q want %q", got, want)
			}
		}
	}
	if a1, b1 := servedBy(); a1-a0 == 0 || b1-b0 == 0 || a1-a0+b1-b0 != 12 {
		t.Fatalf("protected requests served: replica-a %d, replica-b %d; want both, 12 in all", a1-a0, b1-b0)
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
