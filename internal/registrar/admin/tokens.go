package admin

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

type tokenRequest struct {
	Name string     `json:"name"`
	Role store.Role `json:"role"`
}

// createdToken is the only time a token's secret is shown.
type createdToken struct {
	ID    int64      `json:"id"`
	Name  string     `json:"name"`
	Role  store.Role `json:"role"`
	Token string     `json:"token"`
}

// createToken: POST /api/v1/tokens (admin).
func (a *api) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	secret, err := a.store.CreateToken(r.Context(), req.Name, req.Role, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.store.Authenticate(r.Context(), secret)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createdToken{ID: p.TokenID, Name: p.Name, Role: p.Role, Token: secret})
}

// listTokens: GET /api/v1/tokens (admin), never their secrets.
func (a *api) listTokens(w http.ResponseWriter, r *http.Request) {
	if q := readQuery(r); q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	ts, err := a.store.ListTokens(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ts})
}

// revokeToken: DELETE /api/v1/tokens/{id} (admin).
func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.store.RevokeToken(r.Context(), id, actor(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
