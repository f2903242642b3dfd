package httpapi

import (
	"net/http"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
)

// PolicyBody is a voucher policy on the wire: whether nonceless vouchers
// (RFC 8366 5.2 without nonce, bounded by an expires-on) may be issued and
// for how long, and whether an unsold device goes to the first domain that
// asks.
type PolicyBody struct {
	NoncelessAllowed   bool  `json:"nonceless_allowed"`
	MaxLifetimeSeconds int64 `json:"max_lifetime_seconds"`
	TrustOnFirstUse    bool  `json:"trust_on_first_use"`
}

func policyBody(p masa.Policy) PolicyBody {
	return PolicyBody{NoncelessAllowed: p.NoncelessAllowed, MaxLifetimeSeconds: int64(p.MaxLifetime / time.Second), TrustOnFirstUse: p.TrustOnFirstUse}
}

// setPolicy: PUT /admin/v1/policies/{scope}/{subject} (sales), scope
// device (a serial number) or product.
func (a *adminAPI) setPolicy(w http.ResponseWriter, r *http.Request) error {
	var req PolicyBody
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.MaxLifetimeSeconds < 0 || req.MaxLifetimeSeconds > int64(masa.MaxVoucherLifetime/time.Second) {
		return masa.Unprocessable("max_lifetime_seconds out of range")
	}
	p := masa.Policy{NoncelessAllowed: req.NoncelessAllowed, MaxLifetime: time.Duration(req.MaxLifetimeSeconds) * time.Second, TrustOnFirstUse: req.TrustOnFirstUse}
	if err := a.svc.SetPolicy(r.Context(), adminapi.PathParam(r, "scope"), adminapi.PathParam(r, "subject"), p, actor(r)); err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, req)
}

// deletePolicy: DELETE /admin/v1/policies/{scope}/{subject} (sales).
func (a *adminAPI) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeletePolicy(r.Context(), adminapi.PathParam(r, "scope"), adminapi.PathParam(r, "subject"), actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
