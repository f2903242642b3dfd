package enroll

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error is the one error type of this package that carries an HTTP meaning:
// the status to answer with, an optional Retry-After, and a reason shown to
// the client as a plain-text body. Backends and policy callbacks return it to
// say "403, not you", or "202, come back in 60 s" (RFC 7030 section 4.2.3)
// without the HTTP layer guessing. Any other error becomes a 500 whose body
// does not reveal the cause.
type Error struct {
	Status     int           // HTTP status code
	RetryAfter time.Duration // sent as Retry-After (whole seconds) when > 0
	Reason     string        // plain-text body; keep free of secrets
	Err        error         // wrapped cause, for logs and errors.Is/As
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("est: %d %s", e.Status, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status (globalsign/est's Error interface).
func (e *Error) StatusCode() int { return e.Status }

// newError builds an *Error with a formatted reason.
func newError(status int, cause error, format string, args ...any) *Error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...), Err: cause}
}

// ErrPending returns the error a Policy or CA returns when the request is
// accepted but must wait (manual approval, CA queue): RFC 7030 section 4.2.3
// answers it with 202 Accepted and Retry-After.
func ErrPending(retryAfter time.Duration, reason string) *Error {
	if retryAfter <= 0 {
		retryAfter = time.Minute
	}
	return &Error{Status: http.StatusAccepted, RetryAfter: retryAfter, Reason: reason}
}

// ErrForbidden returns a 403 with the given reason.
func ErrForbidden(reason string) *Error {
	return &Error{Status: http.StatusForbidden, Reason: reason}
}

// ErrBadRequest returns a 400 with the given reason.
func ErrBadRequest(reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Reason: reason}
}

// errUnauthenticated is returned when the request carries no verified
// client chain. EST authenticates clients with TLS certificates (RFC 7030
// section 3.3.2); 401 tells the client to come back with one.
var errUnauthenticated = &Error{Status: http.StatusUnauthorized, Reason: "client certificate required"}

// writeError maps any error to its response, in one place (answerOf).
func writeError(w http.ResponseWriter, err error) {
	status, retryAfter, reason := answerOf(err)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	if retryAfter > 0 {
		h.Set("Retry-After", FormatRetryAfter(retryAfter))
	}
	if status == http.StatusUnauthorized {
		// RFC 9110 section 11.6.1 requires a challenge with 401. EST
		// authenticates with TLS client certificates (RFC 7030 3.3.2); the
		// "TLS" scheme tells the client what to present.
		h.Set("WWW-Authenticate", `TLS realm="est"`)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(reason + "\n"))
}

// answerOf is how err is answered. *Error keeps its status, Retry-After
// and reason. Any other error with globalsign/est's method set,
// StatusCode() and optionally RetryAfter() (the registrar's errors carry
// it, so that pkg/enroll imports nothing of theirs), keeps its status and
// Retry-After, with its text as the reason below 500 and the status text
// from 500 on, so that an internal cause never reaches the client.
// Everything else is a 500 with a generic body.
func answerOf(err error) (status int, retryAfter time.Duration, reason string) {
	var e *Error
	var sc interface{ StatusCode() int }
	switch {
	case errors.As(err, &e):
		status, retryAfter, reason = e.Status, e.RetryAfter, e.Reason
	case errors.As(err, &sc) && sc.StatusCode() >= 200 && sc.StatusCode() <= 599:
		status = sc.StatusCode()
		var ra interface{ RetryAfter() time.Duration }
		if errors.As(err, &ra) {
			retryAfter = ra.RetryAfter()
		}
		if status < 500 {
			reason = err.Error()
		}
	default:
		status, reason = http.StatusInternalServerError, "internal error"
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if reason == "" {
		reason = http.StatusText(status)
	}
	return status, retryAfter, reason
}

// FormatRetryAfter is the one Retry-After of device answers: delay-seconds
// (RFC 9110 10.2.3), rounded up, at least 1.
func FormatRetryAfter(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(secs, 1), 10)
}

// statusOf returns the HTTP status err maps to in writeError.
func statusOf(err error) int {
	status, _, _ := answerOf(err)
	return status
}
