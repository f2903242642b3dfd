package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// httpError is an error this package raises itself, with its status and
// a reason safe to show the client.
type httpError struct {
	status int
	reason string
}

func (e *httpError) Error() string { return e.reason }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, reason: fmt.Sprintf(format, args...)}
}

// Problem is an RFC 9457 problem document; Rows lists the rejected rows
// of an allow-list import.
type Problem struct {
	Type   string           `json:"type"`
	Title  string           `json:"title"`
	Status int              `json:"status"`
	Detail string           `json:"detail"`
	Rows   []store.RowError `json:"rows,omitempty"`
}

// retryAfter is what a 503 suggests to clients, in seconds.
const retryAfter = 5

// problemOf maps any error to the problem document the client gets. It is
// the only place that decides statuses; an error it does not know is a
// 500 whose detail stays in the log.
func problemOf(err error) Problem {
	p := func(status int, detail string) Problem {
		return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
	}
	var he *httpError
	var mbe *http.MaxBytesError
	var ie *store.ImportError
	switch {
	case errors.As(err, &he):
		return p(he.status, he.reason)
	case errors.As(err, &mbe):
		return p(http.StatusRequestEntityTooLarge, "request body larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
	case errors.As(err, &ie):
		pr := p(http.StatusUnprocessableEntity, fmt.Sprintf("%d row(s) rejected; nothing was imported", len(ie.Rows)))
		pr.Rows = ie.Rows
		return pr
	case errors.Is(err, store.ErrUnavailable):
		return p(http.StatusServiceUnavailable, "database unavailable; retry later")
	case errors.Is(err, store.ErrUnauthenticated):
		return p(http.StatusUnauthorized, "unknown or revoked token")
	case errors.Is(err, store.ErrNotFound):
		return p(http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrConflict):
		return p(http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrInvalid):
		return p(http.StatusBadRequest, err.Error())
	}
	return p(http.StatusInternalServerError, "internal error")
}

// fail answers r with err's problem document.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	pr := problemOf(err)
	level := slog.LevelInfo
	if pr.Status >= 500 {
		level = slog.LevelError
	}
	a.opt.log.Log(r.Context(), level, "admin request failed", "method", r.Method, "path", r.URL.Path, "status", pr.Status, "err", err)
	writeProblem(w, pr)
}

func writeProblem(w http.ResponseWriter, pr Problem) {
	switch pr.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="landfall-registrar"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(pr.Status)
	_ = json.NewEncoder(w).Encode(pr)
}
