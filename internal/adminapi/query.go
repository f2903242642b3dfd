package adminapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
)

// Query reads a request's query parameters, refusing any it does not know
// or that is given twice, so that a misspelt filter is a 400 naming it
// rather than silently ignored. The first error sticks: read every
// parameter, then check Err.
type Query struct {
	v   url.Values
	err error
}

// ReadQuery starts reading r's query, which may hold only the known
// parameters.
func ReadQuery(r *http.Request, known ...string) *Query {
	q := &Query{v: r.URL.Query()}
	allowed := map[string]bool{}
	for _, k := range known {
		allowed[k] = true
	}
	for k, vs := range q.v {
		switch {
		case !allowed[k]:
			q.fail(Errorf(http.StatusBadRequest, "unknown query parameter %q", k))
		case len(vs) > 1:
			q.fail(Errorf(http.StatusBadRequest, "query parameter %q given more than once", k))
		}
	}
	return q
}

func (q *Query) fail(err error) {
	if q.err == nil {
		q.err = err
	}
}

// Err is the first problem found.
func (q *Query) Err() error { return q.err }

// Str is the parameter's value, "" when absent.
func (q *Query) Str(name string) string { return q.v.Get(name) }

// Int is a non-negative integer parameter, 0 when absent.
func (q *Query) Int(name string) int64 {
	s := q.v.Get(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		q.fail(Errorf(http.StatusBadRequest, "%s must be a non-negative integer", name))
	}
	return n
}

// Time is an RFC 3339 time parameter, the zero time when absent.
func (q *Query) Time(name string) time.Time {
	s := q.v.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.fail(Errorf(http.StatusBadRequest, "%s must be an RFC 3339 time", name))
	}
	return t
}

// Paging limits of a list: DefaultLimit items unless ?limit= asks for up
// to MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Limit is ?limit=, between 1 and max, DefaultLimit when absent.
func (q *Query) Limit(max int) int {
	s := q.v.Get("limit")
	if s == "" {
		return min(DefaultLimit, max)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		q.fail(Errorf(http.StatusBadRequest, "limit must be between 1 and %d", max))
		return min(DefaultLimit, max)
	}
	return n
}

// Cursor is ?cursor=, the next of an earlier page ("" for the first).
func (q *Query) Cursor() string { return q.v.Get("cursor") }

// PathParam returns a path parameter, unescaped: chi matches the escaped
// path when the request's path needed escaping (a serial with "/").
func PathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if r.URL.RawPath != "" {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

// PathID parses the path parameter name as a positive id (400 otherwise).
func PathID(r *http.Request, name string) (int64, error) {
	raw := PathParam(r, name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, Errorf(http.StatusBadRequest, "%s must be a positive integer, got %q", name, raw)
	}
	return id, nil
}
