package httpapi

import (
	"net/http"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
)

// Owner is a device owner, a domain known by its CA certificate, as the
// admin API shows it.
type Owner struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CACert    []byte    `json:"ca_cert"`   // DER
	DomainID  string    `json:"domain_id"` // RFC 8995 5.8.2
	CreatedAt time.Time `json:"created_at"`
}

func ownerOf(o masa.Owner) Owner {
	return Owner{ID: o.ID, Name: o.Name, CACert: o.CACert, DomainID: o.DomainID, CreatedAt: o.CreatedAt}
}

type ownerRequest struct {
	Name   string `json:"name"`
	CACert string `json:"ca_cert"` // PEM or base64 DER
}

// createOwner: POST /admin/v1/owners (sales) registers a domain by its CA
// certificate, the pinned-domain-cert of its vouchers (RFC 8366 5.3).
func (a *adminAPI) createOwner(w http.ResponseWriter, r *http.Request) error {
	var req ownerRequest
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	raw, err := masa.DecodeCACert(req.CACert)
	if err != nil {
		return err
	}
	o, err := a.svc.CreateOwner(r.Context(), req.Name, raw, actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusCreated, ownerOf(o))
}

// listOwners: GET /admin/v1/owners (sales, auditor), every owner.
func (a *adminAPI) listOwners(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.ReadQuery(r).Err(); err != nil {
		return err
	}
	os, err := a.svc.Store().ListOwners(r.Context())
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, adminapi.ItemsOf(mapSlice(os, ownerOf)))
}
