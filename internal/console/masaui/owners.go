package masaui

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/masa"
)

// ownersView is the owners page: every owner (the store lists them all,
// as GET /admin/v1/owners does: owners are domains, not devices).
type ownersView struct {
	Items []masa.Owner
}

// owners: GET /owners (sales, auditor), the owners with the forms that
// register one and sell devices to one.
func (u *ui) owners(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.ReadQuery(r).Err(); err != nil {
		return err
	}
	os, err := u.svc.Store().ListOwners(r.Context())
	if err != nil {
		return err
	}
	return u.c.Render(w, r, web.Page{Name: "owners", Title: "Owners and sales", Data: ownersView{Items: os}})
}

// createOwner: POST /owners (sales) registers a domain by its CA
// certificate (the file ca_cert_file or the text ca_cert, PEM or base64
// DER) under name, by Service.CreateOwner as POST /admin/v1/owners.
func (u *ui) createOwner(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	text, err := formText(r, "ca_cert_file", "ca_cert")
	if err != nil {
		return err
	}
	if text == nil {
		return web.Errorf(http.StatusBadRequest, "choose the domain's CA certificate file or paste it")
	}
	raw, err := masa.DecodeCACert(string(text))
	if err != nil {
		return err
	}
	o, err := u.svc.CreateOwner(r.Context(), strings.TrimSpace(r.PostFormValue("name")), raw, u.actor(r))
	if err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Owner %s (id %d) is registered.", o.Name, o.ID))
	return u.c.Redirect(w, r, "/owners")
}

// sell: POST /sales (sales) assigns devices to an owner by
// Service.Sell, as POST /admin/v1/ownership/assign: the devices are the
// serial numbers of serial_numbers (one a line, or separated by commas or
// spaces) or the range from..to; the owner is owner_id. back=device
// returns to the device's page.
func (u *ui) sell(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	sel := selectionOf(r)
	var b masa.Buyer
	if id := strings.TrimSpace(r.PostFormValue("owner_id")); id != "" {
		if _, err := fmt.Sscan(id, &b.OwnerID); err != nil || b.OwnerID <= 0 {
			return web.Errorf(http.StatusBadRequest, "owner_id must be a positive integer")
		}
	}
	changed, err := u.svc.Sell(r.Context(), sel, b, u.actor(r))
	if err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Sold %s to owner %d.", devicesCount(len(changed)), b.OwnerID))
	return u.back(w, r, sel)
}

// revoke: POST /sales/revoke (sales) takes the selected devices back from
// their owners, by Service.RevokeOwnership as POST
// /admin/v1/ownership/revoke.
func (u *ui) revoke(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	sel := selectionOf(r)
	changed, err := u.svc.RevokeOwnership(r.Context(), sel, u.actor(r))
	if err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Took back %s from their owners.", devicesCount(len(changed))))
	return u.back(w, r, sel)
}

// back ends a sale: on the one device's page when the form was there,
// else on the owners page.
func (u *ui) back(w http.ResponseWriter, r *http.Request, sel masa.Selection) error {
	if r.PostFormValue("back") == "device" && len(sel.SerialNumbers) == 1 {
		return u.c.Redirect(w, r, "/devices/"+pathEscape(sel.SerialNumbers[0]))
	}
	return u.c.Redirect(w, r, "/owners")
}

// selectionOf reads a sale's devices: serial numbers one a line (or
// separated by commas), or the range from..to. Service checks that one
// of the two is given, and not both.
func selectionOf(r *http.Request) masa.Selection {
	sel := masa.Selection{From: strings.TrimSpace(r.PostFormValue("from")), To: strings.TrimSpace(r.PostFormValue("to"))}
	for _, s := range strings.FieldsFunc(r.PostFormValue("serial_numbers"), func(c rune) bool { return c == '\n' || c == '\r' || c == ',' }) {
		if s = strings.TrimSpace(s); s != "" {
			sel.SerialNumbers = append(sel.SerialNumbers, s)
		}
	}
	return sel
}

// devicesCount is "1 device" or "n devices".
func devicesCount(n int) string {
	if n == 1 {
		return "1 device"
	}
	return fmt.Sprintf("%d devices", n)
}
