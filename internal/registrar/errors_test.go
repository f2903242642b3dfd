package registrar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/requestid"
)

func TestFail(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		status     int
		retryAfter string
		body       string
		logged     bool
	}{
		{"refusal", &httpError{http.StatusForbidden, "pledge denied"}, 403, "", "pledge denied\n", false},
		{"held, Retry-After rounded up", &pendingError{http.StatusAccepted, "held", 1200 * time.Millisecond, nil}, 202, "2", "held\n", false},
		{"store down", unavailable(errStoreDown), 503, "5", "registrar database unavailable\n", true},
		{"store down, unwrapped", fmt.Errorf("reading: %w", errStoreDown), 503, "5", "registrar database unavailable\n", true},
		{"internal", errors.New("parsing the registrar certificate: secret"), 500, "", "internal error\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			rg := testRegistrar(&fakeRecords{}, nil, ApprovalAuto)
			rg.log = slog.New(slog.NewTextHandler(&logs, nil))
			req := httptest.NewRequest(http.MethodPost, "/.well-known/brski/requestvoucher", nil)
			req = req.WithContext(requestid.With(context.Background(), "req-42"))
			rec := httptest.NewRecorder()
			rg.fail(rec, req, tc.err)
			if rec.Code != tc.status || rec.Header().Get("Retry-After") != tc.retryAfter || rec.Body.String() != tc.body {
				t.Errorf("answered %d Retry-After %q %q, want %d %q %q", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String(), tc.status, tc.retryAfter, tc.body)
			}
			logged := strings.Contains(logs.String(), "request_id=req-42") && strings.Contains(logs.String(), tc.err.Error())
			if logged != tc.logged {
				t.Errorf("cause logged with the request id: %v, want %v (%s)", logged, tc.logged, logs.String())
			}
		})
	}
}

func TestNewRequiresBackends(t *testing.T) {
	_, err := New(Config{TLSCertificate: tls.Certificate{Certificate: [][]byte{{0x30}}}})
	if err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("New without store, contexts, replicas and CA: %v", err)
	}
}
