package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// classify maps the store's errors to problem documents (RFC 9457); the
// rest, and the rendering, are adminapi's. A database that cannot be
// reached is a 503 with Retry-After.
func classify(err error) (adminapi.Problem, bool) {
	var ie *store.ImportError
	switch {
	case errors.As(err, &ie):
		p := adminapi.NewProblem(http.StatusUnprocessableEntity, fmt.Sprintf("%d row(s) rejected; nothing was imported", len(ie.Rows)))
		p.Rows = ie.Rows
		return p, true
	case errors.Is(err, store.ErrUnavailable):
		return adminapi.NewProblem(http.StatusServiceUnavailable, "database unavailable; retry later"), true
	case errors.Is(err, store.ErrUnauthenticated):
		return adminapi.NewProblem(http.StatusUnauthorized, "unknown or revoked token"), true
	case errors.Is(err, store.ErrNotFound):
		return adminapi.NewProblem(http.StatusNotFound, err.Error()), true
	case errors.Is(err, store.ErrConflict):
		return adminapi.NewProblem(http.StatusConflict, err.Error()), true
	case errors.Is(err, store.ErrInvalid):
		return adminapi.NewProblem(http.StatusBadRequest, err.Error()), true
	}
	return adminapi.Problem{}, false
}
