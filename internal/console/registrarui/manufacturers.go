package registrarui

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// manufacturersView is the manufacturers page.
type manufacturersView struct {
	Items []store.Manufacturer
}

// manufacturers: GET /manufacturers, the trusted manufacturers.
func (u *ui) manufacturers(w http.ResponseWriter, r *http.Request) error {
	ms, err := u.s.ListManufacturers(r.Context())
	if err != nil {
		return err
	}
	return u.c.Render(w, r, web.Page{Name: "manufacturers", Title: "Manufacturers", Data: manufacturersView{Items: ms}})
}

// addManufacturer: POST /manufacturers (admin), a multipart form whose
// anchors are uploaded PEM (or pasted PEM/base64) files, made into a
// manufacturer by admin.ManufacturerRequest as POST /api/v1/manufacturers
// does.
func (u *ui) addManufacturer(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	req := admin.ManufacturerRequest{
		Name: strings.TrimSpace(r.PostFormValue("name")), MASAURL: strings.TrimSpace(r.PostFormValue("masa_url")),
		SerialField:       strings.TrimSpace(r.PostFormValue("serial_field")),
		LDevIDDNSTemplate: strings.TrimSpace(r.PostFormValue("ldevid_dns_template")),
		LDevIDURITemplate: strings.TrimSpace(r.PostFormValue("ldevid_uri_template")),
	}
	var err error
	if req.IDevIDAnchor, err = uploaded(r, "idevid_anchor"); err != nil {
		return err
	}
	if req.MASAAnchor, err = uploaded(r, "masa_anchor"); err != nil {
		return err
	}
	m, err := req.Manufacturer()
	if err != nil {
		return err
	}
	out, err := u.s.CreateManufacturer(r.Context(), m, u.actor(r))
	if err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Manufacturer %s added.", out.Name))
	return u.c.Redirect(w, r, "/manufacturers")
}

// uploaded is the file field name of a multipart form, or else its
// pasted text (field name+"_text"), "" when neither was given.
func uploaded(r *http.Request, name string) (string, error) {
	f, _, err := r.FormFile(name)
	if err == nil {
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return "", err
		}
		if len(b) > 0 {
			return string(b), nil
		}
	}
	return strings.TrimSpace(r.PostFormValue(name + "_text")), nil
}

// removeManufacturer: POST /manufacturers/{id}/delete (admin), the store's
// DeleteManufacturer as DELETE /api/v1/manufacturers/{id}: a 409 while
// pledges reference it.
func (u *ui) removeManufacturer(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	m, err := u.s.GetManufacturer(r.Context(), id)
	if err != nil {
		return err
	}
	if err := u.s.DeleteManufacturer(r.Context(), id, u.actor(r)); err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Manufacturer %s removed.", m.Name))
	return u.c.Redirect(w, r, "/manufacturers")
}
