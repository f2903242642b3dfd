package admin

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

type tokenRequest struct {
	Name string     `json:"name"`
	Role store.Role `json:"role"`
}

// createToken: POST /api/v1/tokens (admin).
func (a *api) createToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	t, err := CreateToken(r.Context(), a.store, req.Name, req.Role, actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusCreated, t)
}

// listTokens: GET /api/v1/tokens (admin), never their secrets.
func (a *api) listTokens(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.ReadQuery(r).Err(); err != nil {
		return err
	}
	ts, err := a.store.ListTokens(r.Context())
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, adminapi.ItemsOf(ts))
}

// revokeToken: DELETE /api/v1/tokens/{id} (admin).
func (a *api) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.store.RevokeToken(r.Context(), id, actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
