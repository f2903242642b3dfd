package admin_test

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
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/api"
	"github.com/landfall-io/landfall/internal/registrar/admin"
)

const specPath = "api/openapi.yaml"

func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, router, err := api.Load()
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// specOperations lists "METHOD /path" of every operation in the spec.
func specOperations(doc *openapi3.T) []string { return api.Operations(doc, "registrar-admin") }

// specChecker validates every request and response passing through it
// against the spec with kin-openapi: a route missing from the spec, an
// undocumented status or a response off its schema fails the test, and
// so does a request the server accepted (2xx) that the spec forbids.
type specChecker struct {
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool
	errs   []string
}

func newSpecChecker(t *testing.T) (*specChecker, *openapi3.T) {
	doc, router := loadSpec(t)
	sc := &specChecker{router: router, seen: map[string]bool{}}
	t.Cleanup(func() {
		for _, msg := range sc.errs {
			t.Error(msg)
		}
	})
	return sc, doc
}

func (sc *specChecker) fail(format string, args ...any) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.errs = append(sc.errs, fmt.Sprintf(format, args...))
}

func (sc *specChecker) wrap(next http.Handler) http.Handler {
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

		vr := r.Clone(context.Background())
		vr.Body = io.NopCloser(bytes.NewReader(body))
		route, params, err := sc.router.FindRoute(vr)
		if err != nil {
			if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
				sc.fail("%s %s: route missing from the spec: %v", r.Method, r.URL.Path, err)
			}
			return
		}
		sc.mu.Lock()
		sc.seen[r.Method+" "+route.Path] = true
		sc.mu.Unlock()
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
				sc.fail("%s %s: accepted by the server but invalid per spec: %v", r.Method, r.URL, err)
			}
		}
		err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: opts,
		})
		if err != nil {
			sc.fail("%s %s -> %d: response invalid per spec: %v\n%s", r.Method, r.URL, rec.Code, err, rec.Body.Bytes())
		}
	})
}

// TestSpecCoversRoutes walks the chi routes and fails on any route that
// api/openapi.yaml (tag registrar-admin) lacks, and on any operation no route serves.
func TestSpecCoversRoutes(t *testing.T) {
	doc, _ := loadSpec(t)
	served := map[string]bool{}
	err := chi.Walk(admin.New(nil).(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/")
		served[method+" "+route] = true
		if item := doc.Paths.Find(route); item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s %s is served but missing from %s", method, route, specPath)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(served) < 20 {
		t.Fatalf("walked only %d routes: %v", len(served), served)
	}
	for _, op := range specOperations(doc) {
		if !served[op] {
			t.Errorf("%s has %s but no route serves it", specPath, op)
		}
	}
}
