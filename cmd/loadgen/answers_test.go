package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAnswersCount: the devices' client counts answers by status, 503s
// with and without Retry-After apart, through one pooled twin per client.
func TestAnswersCount(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	a := &answers{}
	base := srv.Client()
	c := a.wrap(base)
	if a.wrap(base) != c {
		t.Error("a second wrap of the same client made another twin")
	}
	for _, p := range []string{"/", "/busy", "/busy", "/down"} {
		resp, err := c.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got, want := a.summary(), "HTTP answers: 200=1 503=3 503-with-retry-after=2"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if a.unavailable.Load() != 3 || !strings.Contains(a.summary(), "503=3") {
		t.Errorf("%d 503s counted", a.unavailable.Load())
	}
}
