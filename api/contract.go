package api

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Contract loads the contract for a test, failing t if it does not load,
// and returns it with a Checker whose violations fail t when t ends.
func Contract(t testing.TB) (*openapi3.T, *Checker) {
	t.Helper()
	doc, router, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	c := NewChecker(router)
	t.Cleanup(func() {
		for _, msg := range c.Errors() {
			t.Error(msg)
		}
	})
	return doc, c
}
