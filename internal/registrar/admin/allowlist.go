package admin

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// importAllowlist: POST /api/v1/allowlist (operator), a CSV (text/csv) or
// JSON (application/json) document in format version 1; all or nothing,
// 422 with every rejected row.
func (a *api) importAllowlist(w http.ResponseWriter, r *http.Request) error {
	res, err := ImportAllowlist(r.Context(), a.store, adminapi.MediaType(r), r.Body, actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, res)
}

// listAllowlist: GET /api/v1/allowlist?manufacturer_id=&limit=&cursor=
func (a *api) listAllowlist(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "manufacturer_id", "limit", "cursor")
	f := store.AllowFilter{ManufacturerID: q.Int("manufacturer_id"), Limit: q.Limit(store.MaxLimit), Cursor: q.Cursor()}
	if err := q.Err(); err != nil {
		return err
	}
	page, err := a.store.ListAllowlist(r.Context(), f)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, page)
}

// deleteAllowlistEntry: DELETE /api/v1/allowlist/{manufacturer}/{serial}
// (operator); the serial is path-escaped.
func (a *api) deleteAllowlistEntry(w http.ResponseWriter, r *http.Request) error {
	mid, err := adminapi.PathID(r, "manufacturer")
	if err != nil {
		return err
	}
	if err := a.store.DeleteAllowlistEntry(r.Context(), mid, adminapi.PathParam(r, "serial"), actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
