// Package requestid gives every HTTP request an id that its log lines and
// its answer share: the client's X-Request-Id when it sent a sane one,
// else a random one. Both the device-facing and the admin listeners of the
// registrar and the MASA use it, so that an operator finds the log line of
// any answer by the X-Request-Id header it carried.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// Header carries the id on requests and answers.
const Header = "X-Request-Id"

// maxLen bounds a client-chosen id, so that it cannot flood the logs.
const maxLen = 64

type key struct{}

// Middleware takes the request's id from Header, or makes one, echoes it
// in the answer's Header and puts it in the request's context.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, Assign(w, r))
	})
}

// Assign does what Middleware does for one request: it returns r with its
// id in the context, and sets the id in w's Header.
func Assign(w http.ResponseWriter, r *http.Request) *http.Request {
	id := r.Header.Get(Header)
	if !sane(id) {
		id = New()
	}
	w.Header().Set(Header, id)
	return r.WithContext(With(r.Context(), id))
}

// New returns a fresh random id: 16 hex digits.
func New() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the id ctx carries, or "" when it carries none.
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// sane admits 1 to maxLen printable ASCII characters without spaces, so
// that a logged id cannot forge log structure.
func sane(id string) bool {
	if id == "" || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
