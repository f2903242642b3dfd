package masa

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error is the one error type that carries an HTTP meaning: a status code,
// a reason safe to show the client, and, for 202, a retry delay. The HTTP
// layer maps it to a response in one place (httpapi.writeError); any other
// error becomes a 500 whose detail stays in the log.
type Error struct {
	Status int
	Reason string
	Retry  time.Duration // sent as Retry-After when > 0
	Err    error         // underlying cause, logged, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Reason, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// StatusCode and RetryAfter are the method set every Landfall error that
// reaches an answer has (DESIGN decision 10).
func (e *Error) StatusCode() int { return e.Status }

// RetryAfter is the delay sent with 202 and 503, 0 if none.
func (e *Error) RetryAfter() time.Duration { return e.Retry }

func errorf(status int, cause error, format string, args ...any) *Error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...), Err: cause}
}

// BadRequest, Forbidden, ... build an *Error with the status their name says.
func BadRequest(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, nil, format, args...)
}

// Forbidden is a 403: authentication or authorization failed (RFC 8995 5.6).
func Forbidden(format string, args ...any) *Error {
	return errorf(http.StatusForbidden, nil, format, args...)
}

// NotFound is a 404: the MASA does not know the device (RFC 8995 5.6).
func NotFound(format string, args ...any) *Error {
	return errorf(http.StatusNotFound, nil, format, args...)
}

// Conflict is a 409: the request collides with existing state.
func Conflict(format string, args ...any) *Error {
	return errorf(http.StatusConflict, nil, format, args...)
}

// Unprocessable is a 422: well-formed input that fails validation.
func Unprocessable(format string, args ...any) *Error {
	return errorf(http.StatusUnprocessableEntity, nil, format, args...)
}

// Pending is a 202 with Retry-After: the MASA cannot decide yet (RFC 8995 5.6).
func Pending(retry time.Duration, format string, args ...any) *Error {
	e := errorf(http.StatusAccepted, nil, format, args...)
	e.Retry = retry
	return e
}

// Unavailable is a 503 with Retry-After: the MASA's database cannot be
// reached (RFC 9110 section 15.6.4). A registrar passes the delay on to
// its pledge, as it does for a 202 (RFC 8995 5.6). The error matches
// ErrUnavailable and keeps cause for the log.
func Unavailable(retry time.Duration, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Reason: "MASA database unavailable; retry later",
		Retry: retry, Err: fmt.Errorf("%w: %w", ErrUnavailable, cause)}
}

// ErrUnavailable matches the errors of a Store that cannot reach its
// database; the same request may succeed later.
var ErrUnavailable = errors.New("database unavailable")

// ErrNotFound is returned by Store lookups that find nothing.
var ErrNotFound = errors.New("not found")

// ErrDuplicate is returned by Store inserts that collide with a unique key.
var ErrDuplicate = errors.New("duplicate")
