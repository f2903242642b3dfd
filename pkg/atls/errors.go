package atls

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// This file implements the HTTP-level errors of profile 1.5 and how they
// are written: text/plain, Retry-After in whole seconds, no TLS records.

// httpError is an HTTP-level answer of profile 1.5: a status and a reason,
// never TLS records.
type httpError struct {
	status     int
	reason     string
	retryAfter time.Duration
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.status, e.reason) }

func errorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, reason: fmt.Sprintf(format, args...)}
}

// writeError writes err as a text/plain answer. Every HTTP-level error of
// the server goes through here.
func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = &httpError{status: http.StatusInternalServerError, reason: "internal error"}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Set-Cookie")
	if he.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((he.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(he.status)
	fmt.Fprintln(w, he.reason)
}
