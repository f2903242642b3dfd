package registrar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/requestid"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// httpError is a device-facing error: an HTTP status and a plain-text
// reason (RFC 8995 5.6 asks for status codes with a reason the pledge can
// log). Its text is the reason alone, so that pkg/atls and pkg/enroll,
// which answer with the text of errors below 500, send the same body.
type httpError struct {
	status int
	reason string
}

func (e *httpError) Error() string { return e.reason }

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
		return fmt.Sprintf("%s: %v", e.reason, e.err)
	}
	return e.reason
}

func (e *pendingError) Unwrap() error { return e.err }

// StatusCode and RetryAfter are the method set (globalsign/est's Error)
// by which pkg/atls, pkg/enroll and writeError answer with the registrar's
// status and Retry-After.
func (e *httpError) StatusCode() int              { return e.status }
func (e *pendingError) StatusCode() int           { return e.status }
func (e *pendingError) RetryAfter() time.Duration { return e.retryAfter }

// storeRetryAfter is what a pledge is told when the database fails.
const storeRetryAfter = 5 * time.Second

// unavailable wraps a storage failure: 503, retry shortly.
func unavailable(err error) error {
	return &pendingError{status: http.StatusServiceUnavailable, reason: "registrar database unavailable", retryAfter: storeRetryAfter, err: err}
}

// fail answers a BRSKI request with err (writeError) and logs the cause
// of every 5xx with the request id; the device sees the reason only.
func (rg *Registrar) fail(w http.ResponseWriter, r *http.Request, err error) {
	if status := writeError(w, err); status >= 500 {
		rg.log.ErrorContext(r.Context(), "device request failed", "request_id", requestid.From(r.Context()), "status", status, "err", err)
	}
}

// writeError maps every device-facing error to its answer, in one place,
// and returns the status.
func writeError(w http.ResponseWriter, err error) int {
	var he *httpError
	var pe *pendingError
	status, reason := http.StatusInternalServerError, "internal error"
	switch {
	case errors.As(err, &he):
		status, reason = he.status, he.reason
	case errors.As(err, &pe):
		status, reason = pe.status, pe.reason
		w.Header().Set("Retry-After", enroll.FormatRetryAfter(pe.retryAfter))
	case errors.Is(err, store.ErrUnavailable):
		status, reason = http.StatusServiceUnavailable, "registrar database unavailable"
		w.Header().Set("Retry-After", enroll.FormatRetryAfter(storeRetryAfter))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, reason)
	return status
}

// requestIDHandler adds the request id (internal/requestid) to every
// record logged with a request's context, so that the causes pkg/enroll
// logs of its 5xx answers name the request the device saw answered.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := requestid.From(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
