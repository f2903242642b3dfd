package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/api"
	"github.com/landfall-io/landfall/internal/registrar/admin"
)

const specPath = "api/openapi.yaml"

// specOperations lists "METHOD /path" of every operation in the spec.
func specOperations(doc *openapi3.T) []string { return api.Operations(doc, "registrar-admin") }

// newSpecChecker returns the contract and its checker (api.Contract).
func newSpecChecker(t *testing.T) (*api.Checker, *openapi3.T) {
	doc, sc := api.Contract(t)
	return sc, doc
}

// TestSpecCoversRoutes walks the chi routes and fails on any route that
// api/openapi.yaml (tag registrar-admin) lacks, and on any operation no route serves.
func TestSpecCoversRoutes(t *testing.T) {
	doc, _ := api.Contract(t)
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
