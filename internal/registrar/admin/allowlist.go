package admin

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// importAllowlist: POST /api/v1/allowlist (operator), a CSV (text/csv) or
// JSON (application/json) document in format version 1; all or nothing,
// 422 with every rejected row.
func (a *api) importAllowlist(w http.ResponseWriter, r *http.Request) {
	var parse func(r *http.Request) ([]store.ImportRow, error)
	switch mediaType(r) {
	case mediaCSV:
		parse = func(r *http.Request) ([]store.ImportRow, error) { return store.ParseAllowlistCSV(r.Body) }
	case mediaJSON:
		parse = func(r *http.Request) ([]store.ImportRow, error) { return store.ParseAllowlistJSON(r.Body) }
	default:
		a.fail(w, r, errorf(http.StatusUnsupportedMediaType, "Content-Type must be text/csv or application/json"))
		return
	}
	rows, err := parse(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.store.ImportAllowlist(r.Context(), rows, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// listAllowlist: GET /api/v1/allowlist?manufacturer_id=&limit=&cursor=
func (a *api) listAllowlist(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "manufacturer_id", "limit", "cursor")
	f := store.AllowFilter{ManufacturerID: q.int("manufacturer_id"), Limit: q.limit(), Cursor: q.str("cursor")}
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	page, err := a.store.ListAllowlist(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// deleteAllowlistEntry: DELETE /api/v1/allowlist/{manufacturer}/{serial}
// (operator); the serial is path-escaped.
func (a *api) deleteAllowlistEntry(w http.ResponseWriter, r *http.Request) {
	mid, err := pathID(r, "manufacturer")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.store.DeleteAllowlistEntry(r.Context(), mid, pathParam(r, "serial"), actor(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
