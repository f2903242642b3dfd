package enroll

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// backendError has globalsign/est's method set without being an *Error,
// as the registrar's errors do.
type backendError struct {
	status int
	retry  time.Duration
	text   string
}

func (e *backendError) Error() string             { return e.text }
func (e *backendError) StatusCode() int           { return e.status }
func (e *backendError) RetryAfter() time.Duration { return e.retry }

type statusOnly struct{ status int }

func (e statusOnly) Error() string   { return "refused" }
func (e statusOnly) StatusCode() int { return e.status }

func TestWriteErrorMethodSet(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		status     int
		retryAfter string
		body       string
	}{
		{"*Error pending", ErrPending(90*time.Second, "wait"), 202, "90", "wait\n"},
		{"*Error 5xx keeps its reason", &Error{Status: 503, RetryAfter: 2 * time.Second, Reason: "CA busy"}, 503, "2", "CA busy\n"},
		{"method set 4xx", &backendError{403, 0, "pledge denied"}, 403, "", "pledge denied\n"},
		{"method set 202, sub-second Retry-After rounds up", &backendError{202, 300 * time.Millisecond, "held"}, 202, "1", "held\n"},
		{"method set 503 hides its cause", fmt.Errorf("enrolling: %w", &backendError{503, 5 * time.Second, "database down: dial tcp 10.0.0.1"}), 503, "5", "Service Unavailable\n"},
		{"StatusCode without RetryAfter", statusOnly{409}, 409, "", "refused\n"},
		{"status out of range", statusOnly{42}, 500, "", "internal error\n"},
		{"plain error", errors.New("secret cause"), 500, "", "internal error\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeError(rec, tc.err)
			if rec.Code != tc.status || rec.Header().Get("Retry-After") != tc.retryAfter || rec.Body.String() != tc.body {
				t.Errorf("answered %d Retry-After %q %q, want %d %q %q", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String(), tc.status, tc.retryAfter, tc.body)
			}
			if statusOf(tc.err) != tc.status {
				t.Errorf("statusOf = %d, want %d", statusOf(tc.err), tc.status)
			}
		})
	}
}

func TestFormatRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Nanosecond: "1", time.Second: "1", 1500 * time.Millisecond: "2", 30 * time.Second: "30", 0: "1",
	} {
		if got := FormatRetryAfter(d); got != want {
			t.Errorf("FormatRetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}
