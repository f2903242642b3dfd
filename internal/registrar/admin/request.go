package admin

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
)

// Media types the API reads.
const (
	mediaJSON = "application/json"
	mediaCSV  = "text/csv"
)

// limitBody caps the request body at n bytes: a declared larger body is
// refused at once, an undeclared one when reading passes n.
func (a *api) limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				a.fail(w, r, &http.MaxBytesError{Limit: n})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// mediaType returns the request's Content-Type without parameters.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// decodeJSON reads an application/json body into v, strictly: unknown
// fields and trailing data are errors.
func decodeJSON(r *http.Request, v any) error {
	if mediaType(r) != mediaJSON {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "malformed JSON: data after the object")
	}
	return nil
}

// pathID parses the path parameter name as a positive id.
func pathID(r *http.Request, name string) (int64, error) {
	raw := pathParam(r, name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusBadRequest, "%s must be a positive integer, got %q", name, raw)
	}
	return id, nil
}

// pathParam returns a path parameter, unescaped: chi matches the escaped
// path when the request's path needed escaping (a serial with "/").
func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if r.URL.RawPath != "" {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

// query reads a request's query parameters, refusing any it does not
// know, so that a misspelt filter is an error rather than ignored.
type query struct {
	v   url.Values
	err error
}

func readQuery(r *http.Request, known ...string) *query {
	q := &query{v: r.URL.Query()}
	allowed := map[string]bool{}
	for _, k := range known {
		allowed[k] = true
	}
	for k, vs := range q.v {
		switch {
		case !allowed[k]:
			q.err = errorf(http.StatusBadRequest, "unknown query parameter %q", k)
		case len(vs) > 1:
			q.err = errorf(http.StatusBadRequest, "query parameter %q given more than once", k)
		}
	}
	return q
}

func (q *query) str(name string) string { return q.v.Get(name) }

func (q *query) int(name string) int64 {
	s := q.v.Get(name)
	if s == "" || q.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		q.err = errorf(http.StatusBadRequest, "%s must be a non-negative integer", name)
	}
	return n
}

func (q *query) time(name string) time.Time {
	s := q.v.Get(name)
	if s == "" || q.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.err = errorf(http.StatusBadRequest, "%s must be an RFC 3339 time", name)
	}
	return t
}

// limit reads "limit", whose range the store checks.
func (q *query) limit() int { return int(q.int("limit")) }
