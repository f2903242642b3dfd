package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
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

type statusErr struct {
	status int
	retry  time.Duration
}

func (e statusErr) Error() string             { return fmt.Sprintf("status error %d", e.status) }
func (e statusErr) StatusCode() int           { return e.status }
func (e statusErr) RetryAfter() time.Duration { return e.retry }
func (e statusErr) Is(target error) bool      { return target == errService }

var errService = errors.New("service-specific")

// TestFail: the status, detail and headers of each kind of error, and the
// log line, which names the request id and, for a 5xx, the cause.
func TestFail(t *testing.T) {
	classify := func(err error) (Problem, bool) {
		if errors.Is(err, errService) && !errors.As(err, new(statusErr)) {
			return NewProblem(http.StatusConflict, "classified"), true
		}
		return Problem{}, false
	}
	for _, tc := range []struct {
		name        string
		err         error
		status      int
		detail      string
		retryAfter  string
		logged      string // in the log line
		loggedLevel string
	}{
		{"own error", Errorf(http.StatusBadRequest, "limit must be %d", 5), 400, "limit must be 5", "", "limit must be 5", "INFO"},
		{"own 503 with a cause", &Error{Status: 503, Detail: "database unavailable", Err: errors.New("dial tcp: refused")}, 503, "database unavailable", "5", "dial tcp: refused", "ERROR"},
		{"oversized body", fmt.Errorf("reading: %w", &http.MaxBytesError{Limit: 10}), 413, "request body larger than 10 bytes", "", "request body", "INFO"},
		{"service classification first", fmt.Errorf("x: %w", errService), 409, "classified", "", "service-specific", "INFO"},
		{"StatusCode below 500 shows its message", statusErr{status: 404}, 404, "status error 404", "", "", "INFO"},
		{"StatusCode 5xx hides its message", statusErr{status: 503, retry: 1500 * time.Millisecond}, 503, "Service Unavailable", "2", "status error 503", "ERROR"},
		{"unknown error", errors.New("secret detail"), 500, "internal error", "", "secret detail", "ERROR"},
		{"401", Errorf(http.StatusUnauthorized, "no"), 401, "no", "", "", "INFO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			rd := &Renderer{Realm: "test", Log: slog.New(slog.NewTextHandler(&logs, nil)), Classify: classify}
			h := requestid.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rd.Fail(w, r, tc.err) }))
			req := httptest.NewRequest("GET", "/x", nil)
			req.Header.Set(requestid.Header, "req-42")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || p.Status != tc.status || p.Detail != tc.detail || p.Title != http.StatusText(tc.status) || p.Type != "about:blank" {
				t.Errorf("%d %+v, want %d %q", rec.Code, p, tc.status, tc.detail)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if got := rec.Header().Get("WWW-Authenticate"); (tc.status == 401) != (got == `Bearer realm="test"`) {
				t.Errorf("WWW-Authenticate %q", got)
			}
			line := logs.String()
			if !strings.Contains(line, "request_id=req-42") || !strings.Contains(line, tc.logged) || !strings.Contains(line, "level="+tc.loggedLevel) {
				t.Errorf("log line %q lacks request_id=req-42, %q or level %s", line, tc.logged, tc.loggedLevel)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", time.Minute: "60"} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}

type role int

func TestAuth(t *testing.T) {
	rd := &Renderer{Realm: "test"}
	auth := NewAuth(rd, func(_ context.Context, token string) (role, error) {
		switch token {
		case "low":
			return 1, nil
		case "high":
			return 2, nil
		}
		return 0, Errorf(http.StatusUnauthorized, "unknown token")
	})
	atLeast2 := auth.Require(func(r role) error {
		if r < 2 {
			return Errorf(http.StatusForbidden, "needs 2")
		}
		return nil
	})
	var seen role
	h := auth.Authenticate(atLeast2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = PrincipalOf[role](r) })))
	for _, tc := range []struct {
		header string
		status int
	}{
		{"", 401}, {"Basic YTpi", 401}, {"Bearer ", 401}, {"Bearer", 401}, {"Bearer nope", 401},
		{"Bearer low", 403}, {"Bearer high", 200}, {"bearer  high ", 200},
	} {
		seen = 0
		req := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status || (tc.status == 200) != (seen == 2) {
			t.Errorf("%q: %d (principal %d), want %d", tc.header, rec.Code, seen, tc.status)
		}
	}
}

func TestQuery(t *testing.T) {
	for _, tc := range []struct {
		query, err string
	}{
		{"", ""},
		{"limit=5&cursor=abc&n=3&at=2026-01-02T03:04:05Z", ""},
		{"nope=1", `unknown query parameter "nope"`},
		{"n=1&n=2", `query parameter "n" given more than once`},
		{"n=-1", "n must be a non-negative integer"},
		{"n=x", "n must be a non-negative integer"},
		{"at=yesterday", "at must be an RFC 3339 time"},
		{"limit=0", "limit must be between 1 and 10"},
		{"limit=11", "limit must be between 1 and 10"},
		{"limit=ten", "limit must be between 1 and 10"},
	} {
		q := ReadQuery(httptest.NewRequest("GET", "/?"+tc.query, nil), "limit", "cursor", "n", "at")
		q.Int("n")
		q.Time("at")
		limit := q.Limit(10)
		err := q.Err()
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%q: %v, want %q", tc.query, err, tc.err)
		}
		if tc.query == "" && limit != 10 {
			t.Errorf("default limit %d, want min(DefaultLimit, 10)", limit)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	type body struct {
		A int `json:"a"`
	}
	for _, tc := range []struct {
		ct, body string
		status   int
	}{
		{"application/json", `{"a":1}`, 0},
		{"application/json; charset=utf-8", `{"a":1}`, 0},
		{"text/plain", `{"a":1}`, 415},
		{"", `{"a":1}`, 415},
		{"application/json", `{"a":1,"b":2}`, 400},
		{"application/json", `{"a":1}{}`, 400},
		{"application/json", `{"a":`, 400},
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		var v body
		err := DecodeJSON(req, &v)
		var ae *Error
		switch {
		case tc.status == 0 && (err != nil || v.A != 1):
			t.Errorf("%s %s: %v %+v", tc.ct, tc.body, err, v)
		case tc.status != 0 && (!errors.As(err, &ae) || ae.Status != tc.status):
			t.Errorf("%s %s: %v, want %d", tc.ct, tc.body, err, tc.status)
		}
	}
}

func TestPaging(t *testing.T) {
	rows := []int{1, 2, 3}
	key := func(n int) []any { return []any{n} }
	if p := PageOf(rows, 3, key); len(p.Items) != 3 || p.Next != "" {
		t.Errorf("last page %+v", p)
	}
	p := PageOf(rows, 2, key)
	var after int
	if ok, err := DecodeCursor(p.Next, &after); len(p.Items) != 2 || !ok || err != nil || after != 2 {
		t.Errorf("page %+v: cursor %d %v %v", p, after, ok, err)
	}
	if p := PageOf[int](nil, 2, key); p.Items == nil {
		t.Error("an empty page is null, want []")
	}
	for _, c := range []string{"AAAA", "!!", EncodeCursor(1, 2), EncodeCursor("x")} {
		if _, err := DecodeCursor(c, &after); err == nil {
			t.Errorf("cursor %q decoded", c)
		}
	}
}

func TestLimitBody(t *testing.T) {
	rd := &Renderer{}
	h := rd.LimitBody(4)(rd.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := DecodeJSON(r, new(any)); err != nil {
			return err
		}
		return WriteJSON(w, http.StatusOK, "ok")
	}))
	for body, want := range map[string]int{`1`: 200, `12345`: 413, `"abcdefgh"`: 413} {
		for _, chunked := range []bool{false, true} {
			req := httptest.NewRequest("POST", "/", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if chunked {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != want {
				t.Errorf("%q (chunked %v): %d, want %d", body, chunked, rec.Code, want)
			}
		}
	}
}

func TestExportFormat(t *testing.T) {
	for _, tc := range []struct {
		query, accept, format string
		status                int
	}{
		{"", "", FormatJSON, 0},
		{"format=csv", "application/json", FormatCSV, 0},
		{"", "text/csv", FormatCSV, 0},
		{"", "text/*", FormatCSV, 0},
		{"", "application/json;q=0, text/csv", FormatCSV, 0},
		{"", "text/html", "", 406},
		{"format=xml", "", "", 400},
	} {
		req := httptest.NewRequest("GET", "/?"+tc.query, nil)
		req.Header.Set("Accept", tc.accept)
		f, err := ExportFormat(req, ReadQuery(req, "format"))
		var ae *Error
		if f != tc.format || (tc.status == 0) != (err == nil) || (err != nil && (!errors.As(err, &ae) || ae.Status != tc.status)) {
			t.Errorf("%q %q: %q %v, want %q %d", tc.query, tc.accept, f, err, tc.format, tc.status)
		}
	}
}

type pingFunc func(context.Context) error

func (f pingFunc) Ping(ctx context.Context) error { return f(ctx) }

func TestProbes(t *testing.T) {
	rd := &Renderer{}
	for name, tc := range map[string]struct {
		h      http.Handler
		status int
	}{
		"healthz":     {Healthz(), 200},
		"readyz up":   {rd.Readyz(pingFunc(func(context.Context) error { return nil })), 200},
		"readyz down": {rd.Readyz(pingFunc(func(context.Context) error { return errors.New("refused") })), 503},
		"readyz has a deadline": {rd.Readyz(pingFunc(func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			return nil
		})), 200},
	} {
		rec := httptest.NewRecorder()
		tc.h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != tc.status || (tc.status == 503 && rec.Header().Get("Retry-After") != "5") {
			t.Errorf("%s: %d Retry-After %q, want %d", name, rec.Code, rec.Header().Get("Retry-After"), tc.status)
		}
	}
}

func TestWriteExport(t *testing.T) {
	page := Page[int]{Items: []int{1, 22}, Next: "c"}
	row := func(n int) []string { return []string{fmt.Sprint(n), "a,b"} }
	rec := httptest.NewRecorder()
	_ = WriteExport(rec, FormatCSV, page, []string{"n", "s"}, row)
	if got := rec.Body.String(); got != "n,s\n1,\"a,b\"\n22,\"a,b\"\n" || rec.Header().Get(NextCursorHeader) != "c" ||
		rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Errorf("CSV %q, headers %v", got, rec.Header())
	}
	rec = httptest.NewRecorder()
	_ = WriteExport(rec, FormatJSON, page, nil, row)
	if got := strings.TrimSpace(rec.Body.String()); got != `{"items":[1,22],"next":"c"}` {
		t.Errorf("JSON %s", got)
	}
}
