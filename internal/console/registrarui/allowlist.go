package registrarui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// allowlistView is the allow-list page: a page of entries, and the
// rejected rows of a failed import.
type allowlistView struct {
	ManufacturerID int64
	Manufacturers  []store.Manufacturer
	Items          []store.AllowEntry
	Next           string
	Rejected       []store.RowError
	Problem        string
}

// allowlist: GET /allowlist?manufacturer_id=&cursor=, keyset-paged through
// the store's ListAllowlist, as GET /api/v1/allowlist.
func (u *ui) allowlist(w http.ResponseWriter, r *http.Request) error {
	return u.renderAllowlist(w, r, http.StatusOK, allowlistView{})
}

func (u *ui) renderAllowlist(w http.ResponseWriter, r *http.Request, status int, v allowlistView) error {
	q := adminapi.ReadQuery(r, "manufacturer_id", "cursor")
	v.ManufacturerID = q.Int("manufacturer_id")
	cursor := q.Cursor()
	if err := q.Err(); err != nil {
		return err
	}
	page, err := u.s.ListAllowlist(r.Context(), store.AllowFilter{ManufacturerID: v.ManufacturerID, Limit: pageSize, Cursor: cursor})
	if err != nil {
		return err
	}
	v.Items, v.Next = page.Items, page.Next
	if v.Manufacturers, err = u.s.ListManufacturers(r.Context()); err != nil {
		return err
	}
	return u.c.Render(w, r, web.Page{Name: "allowlist", Title: "Allow-list", Status: status, Data: v})
}

// importAllowlist: POST /allowlist (operator), a CSV file (field csv) or
// pasted CSV (csv_text) in format version 1, imported all or nothing by
// admin.ImportAllowlist as POST /api/v1/allowlist: a rejected row is a
// 422 page that lists every one, and nothing is imported.
func (u *ui) importAllowlist(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	var body io.Reader
	if f, _, err := r.FormFile("csv"); err == nil {
		defer f.Close()
		body = f
	} else if text := r.PostFormValue("csv_text"); strings.TrimSpace(text) != "" {
		body = strings.NewReader(text)
	} else {
		return web.Errorf(http.StatusBadRequest, "choose a CSV file or paste its text")
	}
	res, err := admin.ImportAllowlist(r.Context(), u.s, adminapi.MediaCSV, body, u.actor(r))
	var ie *store.ImportError
	if errors.As(err, &ie) {
		p, _ := admin.Classify(err)
		return u.renderAllowlist(w, r, http.StatusUnprocessableEntity, allowlistView{Rejected: ie.Rows, Problem: p.Detail})
	}
	if err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Imported: %d added, %d updated.", res.Added, res.Updated))
	return u.c.Redirect(w, r, "/allowlist")
}

// removeAllowed: POST /allowlist/{manufacturer}/{serial}/delete
// (operator), as DELETE /api/v1/allowlist/{manufacturer}/{serial}.
func (u *ui) removeAllowed(w http.ResponseWriter, r *http.Request) error {
	mid, err := adminapi.PathID(r, "manufacturer")
	if err != nil {
		return err
	}
	serial := adminapi.PathParam(r, "serial")
	if err := u.s.DeleteAllowlistEntry(r.Context(), mid, serial, u.actor(r)); err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Serial %s removed from the allow-list.", serial))
	return u.c.Redirect(w, r, "/allowlist")
}
