package adminapi

import (
	"encoding/json"
	"net/http"
)

// HandlerFunc is an admin handler that returns its failure instead of
// writing it: Handle renders it, the one place that does.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to net/http, answering a returned error with Fail.
func (rd *Renderer) Handle(h HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			rd.Fail(w, r, err)
		}
	}
}

// NotFound and MethodNotAllowed answer the router's misses.
func (rd *Renderer) NotFound(w http.ResponseWriter, r *http.Request) {
	rd.Fail(w, r, Errorf(http.StatusNotFound, "no such endpoint"))
}

// MethodNotAllowed answers a known path asked with another method.
func (rd *Renderer) MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	rd.Fail(w, r, Errorf(http.StatusMethodNotAllowed, "method %s not allowed here", r.Method))
}

// WriteJSON answers with v as application/json.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", MediaJSON)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return nil
}

// Items is the envelope of a list that is not paged.
type Items[T any] struct {
	Items []T `json:"items"`
}

// ItemsOf wraps a list, never as JSON null.
func ItemsOf[T any](items []T) Items[T] {
	if items == nil {
		items = []T{}
	}
	return Items[T]{Items: items}
}
