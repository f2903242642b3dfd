package adminapi

import (
	"context"
	"net/http"
	"strings"
)

// Auth authenticates admin requests by bearer token (RFC 6750 2.1) and
// checks what their principal, of the service's type P, may do. The
// service owns the rules: resolve turns a token into a principal (an
// unknown or revoked token is its error, normally a 401), and each route's
// check says whether a principal may call it (normally a 403).
type Auth[P any] struct {
	rd      *Renderer
	resolve func(ctx context.Context, token string) (P, error)
}

// NewAuth returns the authentication of a service whose tokens resolve
// resolves; failures are rendered by rd.
func NewAuth[P any](rd *Renderer, resolve func(ctx context.Context, token string) (P, error)) *Auth[P] {
	return &Auth[P]{rd: rd, resolve: resolve}
}

type principalKey[P any] struct{}

// Authenticate resolves "Authorization: Bearer <token>" to a principal and
// passes it on in the request's context; a missing or malformed header is
// a 401 without asking the service.
func (a *Auth[P]) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			a.rd.Fail(w, r, Errorf(http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <token>)"))
			return
		}
		p, err := a.resolve(r.Context(), token)
		if err != nil {
			a.rd.Fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey[P]{}, p)))
	})
}

// Require lets a request through when check accepts its principal, and
// answers check's error otherwise. It runs after Authenticate.
func (a *Auth[P]) Require(check func(P) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := check(PrincipalOf[P](r)); err != nil {
				a.rd.Fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// PrincipalOf is the principal Authenticate found for r (the zero P on an
// unauthenticated route).
func PrincipalOf[P any](r *http.Request) P {
	p, _ := r.Context().Value(principalKey[P]{}).(P)
	return p
}

// bearer extracts the token of an Authorization header; the scheme is
// case-insensitive (RFC 9110 11.1).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
