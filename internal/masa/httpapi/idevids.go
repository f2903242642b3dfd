package httpapi

import (
	"encoding/pem"
	"net/http"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
)

// issueRequest is the body of POST /admin/v1/idevids: a PKCS#10 request
// (RFC 2986) as PEM or base64 DER, and the serial number (default: the
// CSR subject's serialNumber) and product to register.
type issueRequest struct {
	CSR          string `json:"csr"`
	SerialNumber string `json:"serial_number"`
	Product      string `json:"product"`
}

type issueResponse struct {
	SerialNumber string `json:"serial_number"`
	Certificate  string `json:"certificate"` // PEM
}

// issueIDevID: POST /admin/v1/idevids (factory) signs a device's CSR into
// an IDevID carrying its serial number and the MASA URL extension
// (RFC 8995 2.3), and registers the device.
func (a *adminAPI) issueIDevID(w http.ResponseWriter, r *http.Request) error {
	var req issueRequest
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	der, err := masa.DecodeCSR(req.CSR)
	if err != nil {
		return err
	}
	cert, err := a.svc.IssueIDevID(r.Context(), masa.IssueRequest{CSR: der, SerialNumber: req.SerialNumber, Product: req.Product, Actor: actor(r)})
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusCreated, issueResponse{SerialNumber: cert.Subject.SerialNumber,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))})
}
