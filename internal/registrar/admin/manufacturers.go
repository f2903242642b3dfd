package admin

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// manufacturerRequest is the body of POST and PUT /manufacturers.
// Certificates are PEM or base64 DER.
type manufacturerRequest struct {
	Name         string `json:"name"`
	IDevIDAnchor string `json:"idevid_anchor"`
	MASAURL      string `json:"masa_url"`
	MASAAnchor   string `json:"masa_anchor"`
	SerialField  string `json:"serial_field"`
	// LDevID name templates (RFC 8995 5.9.2 names; the store checks them).
	LDevIDDNSTemplate string `json:"ldevid_dns_template"`
	LDevIDURITemplate string `json:"ldevid_uri_template"`
}

// certificateDER decodes a PEM CERTIFICATE block or base64 DER; the store
// checks that it parses.
func certificateDER(field, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, errorf(http.StatusBadRequest, "%s: PEM block is %s, want CERTIFICATE", field, blk.Type)
		}
		return blk.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "%s must be a PEM certificate or base64 DER", field)
	}
	return der, nil
}

func (a *api) readManufacturer(r *http.Request) (store.Manufacturer, error) {
	var req manufacturerRequest
	if err := decodeJSON(r, &req); err != nil {
		return store.Manufacturer{}, err
	}
	m := store.Manufacturer{Name: req.Name, MASAURL: req.MASAURL, SerialField: req.SerialField,
		LDevIDDNSTemplate: req.LDevIDDNSTemplate, LDevIDURITemplate: req.LDevIDURITemplate}
	var err error
	if m.IDevIDAnchor, err = certificateDER("idevid_anchor", req.IDevIDAnchor); err != nil {
		return m, err
	}
	if len(m.IDevIDAnchor) == 0 {
		return m, errorf(http.StatusBadRequest, "idevid_anchor is required")
	}
	if m.MASAAnchor, err = certificateDER("masa_anchor", req.MASAAnchor); err != nil {
		return m, err
	}
	return m, nil
}

// listManufacturers: GET /api/v1/manufacturers.
func (a *api) listManufacturers(w http.ResponseWriter, r *http.Request) {
	if q := readQuery(r); q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	ms, err := a.store.ListManufacturers(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ms})
}

// createManufacturer: POST /api/v1/manufacturers (admin).
func (a *api) createManufacturer(w http.ResponseWriter, r *http.Request) {
	m, err := a.readManufacturer(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.store.CreateManufacturer(r.Context(), m, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/manufacturers/"+strconv.FormatInt(out.ID, 10))
	writeJSON(w, http.StatusCreated, out)
}

// getManufacturer: GET /api/v1/manufacturers/{id}.
func (a *api) getManufacturer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	m, err := a.store.GetManufacturer(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// updateManufacturer: PUT /api/v1/manufacturers/{id} (admin) replaces
// its name, anchors, MASA URL, serial field and LDevID name templates.
func (a *api) updateManufacturer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	m, err := a.readManufacturer(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	m.ID = id
	out, err := a.store.UpdateManufacturer(r.Context(), m, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteManufacturer: DELETE /api/v1/manufacturers/{id} (admin); 409
// while pledges reference it.
func (a *api) deleteManufacturer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.store.DeleteManufacturer(r.Context(), id, actor(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
