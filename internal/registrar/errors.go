package registrar

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// httpError is a device-facing error: an HTTP status and a plain-text
// reason (RFC 8995 5.6 asks for status codes with a reason the pledge can
// log).
type httpError struct {
	status int
	reason string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.status, e.reason) }

// pendingError is a 202 (or 503) with Retry-After; err is the cause, for
// the log.
type pendingError struct {
	status     int
	reason     string
	retryAfter time.Duration
	err        error
}

func (e *pendingError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.reason, e.err)
	}
	return fmt.Sprintf("%d %s", e.status, e.reason)
}

func (e *pendingError) Unwrap() error { return e.err }

// storeRetryAfter is what a pledge is told when the database fails.
const storeRetryAfter = 5 * time.Second

// unavailable wraps a storage failure: 503, retry shortly.
func unavailable(err error) error {
	return &pendingError{status: http.StatusServiceUnavailable, reason: "registrar database unavailable", retryAfter: storeRetryAfter, err: err}
}

// writeError maps every device-facing error to its answer, in one place.
func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	var pe *pendingError
	status, reason := http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &he):
		status, reason = he.status, he.reason
	case errors.As(err, &pe):
		status, reason = pe.status, pe.reason
		w.Header().Set("Retry-After", strconv.Itoa(int((pe.retryAfter+time.Second-1)/time.Second)))
	case errors.Is(err, store.ErrUnavailable):
		status, reason = http.StatusServiceUnavailable, "registrar database unavailable"
		w.Header().Set("Retry-After", strconv.Itoa(int(storeRetryAfter/time.Second)))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, reason)
}

// StatusCode and RetryAfter let pkg/atls and pkg/enroll answer with the
// registrar's status, reason and Retry-After.
func (e *httpError) StatusCode() int              { return e.status }
func (e *pendingError) StatusCode() int           { return e.status }
func (e *pendingError) RetryAfter() time.Duration { return e.retryAfter }
