package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Checker validates every request and response that passes through
// Wrap against the contract with kin-openapi: a route missing from the
// spec (unless the server answered 404 or 405), an undocumented status or
// a response off its schema is an error, and so is a request the server
// accepted (2xx) that the spec forbids. The contract tests of the MASA
// and of the registrar's admin API share it.
type Checker struct {
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool
	errs   []string
}

// NewChecker returns a Checker matching requests with router (from Load).
func NewChecker(router routers.Router) *Checker {
	return &Checker{router: router, seen: map[string]bool{}}
}

// Errors lists every violation seen so far.
func (c *Checker) Errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

// Seen reports whether an exchange of the operation "METHOD /path" (as
// Operations names it) passed through.
func (c *Checker) Seen(op string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[op]
}

func (c *Checker) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// Wrap serves next and checks the exchange.
func (c *Checker) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())

		// Validate a copy of the request as the client sent it.
		vr := r.Clone(context.Background())
		vr.Body = io.NopCloser(bytes.NewReader(body))
		route, params, err := c.router.FindRoute(vr)
		if err != nil {
			if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
				c.fail("%s %s: route missing from api/openapi.yaml: %v", r.Method, r.URL.Path, err)
			}
			return
		}
		c.mu.Lock()
		c.seen[r.Method+" "+route.Path] = true
		c.mu.Unlock()
		opts := &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
				if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
					return errors.New("no bearer token")
				}
				return nil
			},
		}
		in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route, Options: opts}
		if rec.Code < 300 {
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				c.fail("%s %s: accepted by the server but invalid per api/openapi.yaml: %v", r.Method, r.URL, err)
			}
		}
		err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: opts,
		})
		if err != nil {
			c.fail("%s %s -> %d: response invalid per api/openapi.yaml: %v\n%s", r.Method, r.URL, rec.Code, err, rec.Body.Bytes())
		}
	})
}
