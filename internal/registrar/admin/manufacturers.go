package admin

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// certificateDER decodes a PEM CERTIFICATE block or base64 DER; the store
// checks that it parses.
func certificateDER(field, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, adminapi.Errorf(http.StatusBadRequest, "%s: PEM block is %s, want CERTIFICATE", field, blk.Type)
		}
		return blk.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, adminapi.Errorf(http.StatusBadRequest, "%s must be a PEM certificate or base64 DER", field)
	}
	return der, nil
}

func (a *api) readManufacturer(r *http.Request) (store.Manufacturer, error) {
	var req ManufacturerRequest
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return store.Manufacturer{}, err
	}
	return req.Manufacturer()
}

// listManufacturers: GET /api/v1/manufacturers.
func (a *api) listManufacturers(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.ReadQuery(r).Err(); err != nil {
		return err
	}
	ms, err := a.store.ListManufacturers(r.Context())
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, adminapi.ItemsOf(ms))
}

// createManufacturer: POST /api/v1/manufacturers (admin).
func (a *api) createManufacturer(w http.ResponseWriter, r *http.Request) error {
	m, err := a.readManufacturer(r)
	if err != nil {
		return err
	}
	out, err := a.store.CreateManufacturer(r.Context(), m, actor(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/manufacturers/"+strconv.FormatInt(out.ID, 10))
	return adminapi.WriteJSON(w, http.StatusCreated, out)
}

// getManufacturer: GET /api/v1/manufacturers/{id}.
func (a *api) getManufacturer(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	m, err := a.store.GetManufacturer(r.Context(), id)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, m)
}

// updateManufacturer: PUT /api/v1/manufacturers/{id} (admin) replaces
// its name, anchors, MASA URL, serial field and LDevID name templates.
func (a *api) updateManufacturer(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	m, err := a.readManufacturer(r)
	if err != nil {
		return err
	}
	m.ID = id
	out, err := a.store.UpdateManufacturer(r.Context(), m, actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, out)
}

// deleteManufacturer: DELETE /api/v1/manufacturers/{id} (admin); 409
// while pledges reference it.
func (a *api) deleteManufacturer(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.store.DeleteManufacturer(r.Context(), id, actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
