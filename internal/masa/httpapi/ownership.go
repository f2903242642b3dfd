package httpapi

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
)

// selection names devices: a list of serial numbers, or an inclusive
// range in their text order.
type selection struct {
	SerialNumbers []string `json:"serial_numbers,omitempty"`
	From          string   `json:"from,omitempty"`
	To            string   `json:"to,omitempty"`
}

func (s selection) masa() masa.Selection {
	return masa.Selection{SerialNumbers: s.SerialNumbers, From: s.From, To: s.To}
}

// assignRequest names the owner by id, or by its domain CA certificate
// (registering the owner if it is new).
type assignRequest struct {
	selection
	OwnerID int64  `json:"owner_id"`
	CACert  string `json:"ca_cert"`
	Name    string `json:"name"`
}

// assign: POST /admin/v1/ownership/assign (sales) sells the selected
// devices to an owner (masa.Service.Sell), whose registrars may then get
// their vouchers (RFC 8995 5.5.4).
func (a *adminAPI) assign(w http.ResponseWriter, r *http.Request) error {
	var req assignRequest
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	changed, err := a.svc.Sell(r.Context(), req.selection.masa(), masa.Buyer{OwnerID: req.OwnerID, CACert: req.CACert, Name: req.Name}, actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, map[string][]string{"changed": changed})
}

// revoke: POST /admin/v1/ownership/revoke (sales) takes the selected
// devices back from their owners.
func (a *adminAPI) revoke(w http.ResponseWriter, r *http.Request) error {
	var req selection
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	changed, err := a.svc.RevokeOwnership(r.Context(), req.masa(), actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, map[string][]string{"changed": changed})
}
