// Package api embeds openapi.yaml, the HTTP contract of the MASA (tag
// masa) and of the registrar's admin API (tag registrar-admin), and loads
// it for the tests that check the handlers against it.
package api

import (
	_ "embed"
	"fmt"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

//go:embed openapi.yaml
var spec []byte

// Load parses and validates the contract and returns it with a router
// that matches requests of any host to their operations.
func Load() (*openapi3.T, routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, nil, fmt.Errorf("api/openapi.yaml is not valid OpenAPI: %w", err)
	}
	doc.Servers = nil // any host: test servers listen on random ports
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, nil, err
	}
	return doc, router, nil
}

// Operations lists "METHOD /path" of every operation tagged tag, sorted.
func Operations(doc *openapi3.T, tag string) []string {
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, t := range op.Tags {
				if t == tag {
					ops = append(ops, method+" "+path)
				}
			}
		}
	}
	sort.Strings(ops)
	return ops
}
