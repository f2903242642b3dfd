package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/landfall-io/landfall/internal/requestid"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// Error is an error an admin handler raises itself: a status, a detail
// safe to show the client and, optionally, a cause that only the log sees.
type Error struct {
	Status int
	Detail string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// StatusCode is the HTTP status the error answers with.
func (e *Error) StatusCode() int { return e.Status }

// Errorf returns an *Error with the status and a formatted detail.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// Problem is an RFC 9457 problem document (section 3.1 members); Rows
// lists the rejected rows of a bulk import.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Rows   any    `json:"rows,omitempty"`
	// RetryAfter, when positive, is sent as Retry-After; a 503 without
	// one suggests the error's RetryAfter() or DefaultRetryAfter.
	RetryAfter time.Duration `json:"-"`
}

// NewProblem is a problem of type about:blank (RFC 9457 4.2.1), titled
// after its status.
func NewProblem(status int, detail string) Problem {
	return Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail}
}

// DefaultRetryAfter is what a 503 suggests when its error names no delay.
const DefaultRetryAfter = 5 * time.Second

// Renderer answers failed admin requests with problem documents and logs
// them: every 5xx at error level with its cause, the rest at info.
type Renderer struct {
	// Realm names the service in WWW-Authenticate (RFC 6750 3).
	Realm string
	Log   *slog.Logger
	// Classify maps the service's own errors to problems; false leaves an
	// error to the generic rules. It may be nil.
	Classify func(err error) (Problem, bool)
}

// ProblemOf maps err to the problem document the client gets: the
// service's classification, then this package's *Error, an oversized
// body (413), any error with StatusCode() (its message shown below 500),
// and otherwise 500 with the detail left to the log.
func (rd *Renderer) ProblemOf(err error) Problem {
	if rd.Classify != nil {
		if p, ok := rd.Classify(err); ok {
			return p
		}
	}
	var ae *Error
	var mbe *http.MaxBytesError
	var sc interface{ StatusCode() int }
	switch {
	case errors.As(err, &ae):
		return NewProblem(ae.Status, ae.Detail)
	case errors.As(err, &mbe):
		return NewProblem(http.StatusRequestEntityTooLarge, "request body larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes")
	case errors.As(err, &sc) && sc.StatusCode() >= 400:
		if s := sc.StatusCode(); s < 500 {
			return NewProblem(s, err.Error())
		}
		return NewProblem(sc.StatusCode(), http.StatusText(sc.StatusCode()))
	}
	return NewProblem(http.StatusInternalServerError, "internal error")
}

// Fail answers r with err's problem document.
func (rd *Renderer) Fail(w http.ResponseWriter, r *http.Request, err error) {
	p := rd.ProblemOf(err)
	level := slog.LevelInfo
	if p.Status >= 500 {
		level = slog.LevelError
	}
	if rd.Log != nil {
		rd.Log.Log(r.Context(), level, "admin request failed", "request_id", requestid.From(r.Context()),
			"method", r.Method, "path", r.URL.Path, "status", p.Status, "cause", err)
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+rd.Realm+`"`)
	}
	if p.RetryAfter <= 0 && p.Status == http.StatusServiceUnavailable {
		p.RetryAfter = retryOf(err)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", RetryAfter(p.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// retryOf is the delay err names through RetryAfter(), or the default.
func retryOf(err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return ra.RetryAfter()
	}
	return DefaultRetryAfter
}

// RetryAfter formats d as Retry-After delay-seconds (RFC 9110 10.2.3),
// rounded up to a whole second and never below one: the one format of
// every Landfall answer, device (pkg/enroll) and admin alike.
func RetryAfter(d time.Duration) string { return enroll.FormatRetryAfter(d) }
