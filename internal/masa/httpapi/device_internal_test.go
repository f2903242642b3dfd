package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestLimitInFlight: with the one slot taken, the next request gets 503
// with Retry-After; once it is free, requests pass again.
func TestLimitInFlight(t *testing.T) {
	inside, release := make(chan struct{}), make(chan struct{})
	h := limitInFlight(1, slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			inside <- struct{}{}
			<-release
		}
	}))
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/block", nil))
		done <- rec.Code
	}()
	<-inside
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/x", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("second request: %d %v", rec.Code, rec.Header())
	}
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Errorf("first request: %d", code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/x", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("after release: %d", rec.Code)
	}
}

func TestAccepts(t *testing.T) {
	for _, tc := range []struct {
		header, offer string
		want          bool
	}{
		{"", MediaVoucherCMS, true},
		{"*/*", MediaVoucherCMS, true},
		{"application/*", MediaVoucherCMS, true},
		{"application/voucher-cms+json", MediaVoucherCMS, true},
		{"text/plain, application/voucher-cms+json;q=0.5", MediaVoucherCMS, true},
		{"application/voucher-cms+json;q=0", MediaVoucherCMS, false},
		{"application/voucher-cose+cbor", MediaVoucherCMS, false},
		{"application/json", MediaVoucherCMS, false},
		{"text/*", MediaJSON, false},
		{"garbage;;", MediaJSON, false},
	} {
		if got := accepts(tc.header, tc.offer); got != tc.want {
			t.Errorf("accepts(%q, %q) = %v", tc.header, tc.offer, got)
		}
	}
}
