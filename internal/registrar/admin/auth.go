package admin

import (
	"context"
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

type principalKey struct{}

// authenticate resolves "Authorization: Bearer <token>" to a principal;
// a missing, malformed, unknown or revoked token is a 401.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			a.fail(w, r, errorf(http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <token>)"))
			return
		}
		p, err := a.store.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// require lets principals whose role includes need through; others get 403.
func (a *api) require(need store.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := principal(r); !p.Role.Includes(need) {
				a.fail(w, r, errorf(http.StatusForbidden, "role %s may not do this; it needs %s", p.Role, need))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func principal(r *http.Request) store.Principal {
	p, _ := r.Context().Value(principalKey{}).(store.Principal)
	return p
}

// actor names the request's principal in audit events.
func actor(r *http.Request) string { return principal(r).Actor() }
