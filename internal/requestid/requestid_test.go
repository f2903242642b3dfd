package requestid

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMiddleware(t *testing.T) {
	for _, tc := range []struct {
		name, sent string
		kept       bool
	}{
		{"absent", "", false},
		{"sane", "abc-123", true},
		{"too long", strings.Repeat("a", 65), false},
		{"longest kept", strings.Repeat("a", 64), true},
		{"with a space", "a b", false},
		{"with a newline", "a\nb", false},
		{"not ASCII", "é", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen string
			h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = From(r.Context()) }))
			req := httptest.NewRequest("GET", "/", nil)
			if tc.sent != "" {
				req.Header.Set(Header, tc.sent)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(Header)
			if got != seen || got == "" {
				t.Fatalf("answer says %q, context %q", got, seen)
			}
			if (got == tc.sent) != tc.kept {
				t.Errorf("sent %q, got %q; kept = %v, want %v", tc.sent, got, got == tc.sent, tc.kept)
			}
		})
	}
}
