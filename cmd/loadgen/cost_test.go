package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestParseProcessCPU(t *testing.T) {
	text := "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n" +
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total_other 9\nprocess_cpu_seconds_total 12.5\n"
	v, err := parseProcessCPU(strings.NewReader(text))
	if err != nil || v != 12.5 {
		t.Fatalf("got %v, %v", v, err)
	}
	if _, err := parseProcessCPU(strings.NewReader("go_goroutines 3\n")); err == nil {
		t.Fatal("no error without the metric")
	}
}

func TestProcTreeCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := procTreeCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := selfCPU(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestWireCounter: both the dialer's count and the direct-mode relay's
// count every byte of a request and its answer.
func TestWireCounter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, strings.Repeat("x", 1000))
	}))
	defer srv.Close()
	for _, relay := range []bool{false, true} {
		w := &wireCounter{}
		u := srv.URL
		c := &http.Client{Transport: &http.Transport{}}
		if relay {
			var err error
			if u, err = w.viaRelay(u); err != nil {
				t.Fatal(err)
			}
		} else {
			c = w.client(c)
		}
		resp, err := c.Post(u, "text/plain", strings.NewReader(strings.Repeat("y", 500)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.CloseIdleConnections()
		if relay {
			w.close()
		}
		// The answer's body is in; headers make the rest.
		if w.sent.Load() < 500 || w.recv.Load() < 1000 || w.conns.Load() != 1 {
			t.Fatalf("relay %v: sent %d, received %d, %d connections", relay, w.sent.Load(), w.recv.Load(), w.conns.Load())
		}
	}
}

// TestScrapeCPU: the token goes with the scrape, and the profile URL is
// the metrics listener's.
func TestScrapeCPU(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, "process_cpu_seconds_total 3.25")
	}))
	defer srv.Close()
	v, err := scrapeCPU(srv.Client(), srv.URL+"/metrics", "tok")(context.Background())
	if err != nil || v != 3.25 {
		t.Fatalf("got %v, %v", v, err)
	}
	if _, err := scrapeCPU(srv.Client(), srv.URL+"/metrics", "")(context.Background()); err == nil {
		t.Fatal("a refused scrape gave a figure")
	}
	u, err := profileURL("https://reg-a:9090/metrics", 20)
	if err != nil || u != "https://reg-a:9090/debug/pprof/profile?seconds=20" {
		t.Fatalf("profile URL %q, %v", u, err)
	}
}
