package httpapi

import (
	"encoding/base64"
	"encoding/pem"
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
	o, err := a.ownerByCert(r, req.Name, req.CACert)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusCreated, ownerOf(o))
}

// ownerByCert registers the owner whose domain CA certificate caCert is,
// or finds it if it is registered already.
func (a *adminAPI) ownerByCert(r *http.Request, name, caCert string) (masa.Owner, error) {
	raw, err := decodeCert(caCert)
	if err != nil {
		return masa.Owner{}, err
	}
	return a.svc.CreateOwner(r.Context(), name, raw, actor(r))
}

// decodeCert accepts a certificate as PEM or base64 DER.
func decodeCert(s string) ([]byte, error) {
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		return []byte(s), nil
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, masa.Unprocessable("ca_cert must be PEM or base64 DER")
	}
	return der, nil
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
