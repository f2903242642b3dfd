package sandbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/landfall-io/landfall/internal/sandbox"
)

// TestNginxConnectionAffinity: with ConnectionAffinity every request of
// one client connection reaches the same upstream, and separate
// connections still reach both; without it one connection's requests are
// balanced round-robin over both.
func TestNginxConnectionAffinity(t *testing.T) {
	var upstreams []*url.URL
	for _, name := range []string{"a", "b"} {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(ts.Close)
		u, _ := url.Parse(ts.URL)
		upstreams = append(upstreams, u)
	}
	// served returns which upstreams answered n requests, each over a
	// fresh connection or all over one.
	served := func(t *testing.T, ngx *sandbox.Nginx, n int, fresh bool) map[string]int {
		t.Helper()
		seen := map[string]int{}
		client := ngx.Client()
		for range n {
			if fresh {
				client.CloseIdleConnections()
			}
			resp, err := client.Get(ngx.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			seen[string(b)]++
		}
		return seen
	}
	for _, affinity := range []bool{true, false} {
		ngx, err := sandbox.StartNginxWith(context.Background(), sandbox.NginxOptions{HTTP: upstreams, ConnectionAffinity: affinity})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ngx.Stop)
		one := served(t, ngx, 20, false)
		many := served(t, ngx, 40, true)
		switch {
		case affinity && len(one) != 1:
			t.Fatalf("with affinity, one connection's requests reached %v", one)
		case affinity && len(many) != 2:
			t.Fatalf("with affinity, 40 connections reached only %v", many)
		case !affinity && len(one) != 2:
			t.Fatalf("round-robin: one connection's requests reached only %v", one)
		}
	}
}
