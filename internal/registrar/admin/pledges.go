package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// PledgeDetail is one pledge with everything recorded about it.
type PledgeDetail struct {
	store.Pledge
	Exchanges    []store.Exchange    `json:"exchanges"`
	Telemetry    []store.Telemetry   `json:"telemetry"`
	Certificates []store.Certificate `json:"certificates"`
	// AuditLogChecks are the registrar's checks of the pledge's MASA audit
	// log (RFC 8995 5.8), oldest first; AuditLog is the latest one as it
	// stands now, nil when the pledge was never checked.
	AuditLogChecks []store.AuditCheck `json:"audit_log_checks"`
	AuditLog       *AuditLogVerdict   `json:"audit_log,omitempty"`
}

// AuditLogVerdict is a pledge's latest audit-log check: its verdict
// (pass, flagged, error), the mode it ran in, what it found, and whether
// an operator's approval overrides it (store.AuditLogOverridden; under
// enforce a flagged or failed check refuses EST until then).
type AuditLogVerdict struct {
	Verdict    string               `json:"verdict"`
	Mode       string               `json:"mode"`
	Reason     string               `json:"reason"`
	Findings   []store.AuditFinding `json:"findings"`
	CheckedAt  time.Time            `json:"checked_at"`
	Overridden bool                 `json:"overridden"`
}

// auditCheckLister is the store's list of audit-log checks; a Store
// without it reports none.
type auditCheckLister interface {
	ListAuditChecks(ctx context.Context, pledgeID int64) ([]store.AuditCheck, error)
}

// addAuditLog fills d's audit-log fields from s.
func (d *PledgeDetail) addAuditLog(ctx context.Context, s Store) error {
	d.AuditLogChecks = []store.AuditCheck{}
	l, ok := s.(auditCheckLister)
	if !ok {
		return nil
	}
	cs, err := l.ListAuditChecks(ctx, d.ID)
	if err != nil {
		return err
	}
	d.AuditLogChecks = cs
	if n := len(cs); n > 0 {
		c := cs[n-1]
		d.AuditLog = &AuditLogVerdict{Verdict: c.Verdict, Mode: c.Mode, Reason: c.Reason, Findings: c.Findings,
			CheckedAt: c.CheckedAt, Overridden: store.AuditLogOverridden(&d.Pledge, cs)}
	}
	return nil
}

// listPledges: GET /api/v1/pledges?decision=&state=&manufacturer_id=&serial_prefix=&limit=&cursor=
func (a *api) listPledges(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "decision", "state", "manufacturer_id", "serial_prefix", "limit", "cursor")
	f := store.PledgeFilter{Decision: store.Decision(q.Str("decision")), State: store.State(q.Str("state")),
		ManufacturerID: q.Int("manufacturer_id"), SerialPrefix: q.Str("serial_prefix"), Limit: q.Limit(store.MaxLimit), Cursor: q.Cursor()}
	if err := q.Err(); err != nil {
		return err
	}
	page, err := a.store.ListPledges(r.Context(), f)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, page)
}

// getPledge: GET /api/v1/pledges/{id}, with its voucher exchanges,
// telemetry and certificates.
func (a *api) getPledge(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	d, err := PledgeStory(r.Context(), a.store, id)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, d)
}

// decideOne: POST /api/v1/pledges/{id}/approve and .../deny.
func (a *api) decideOne(d store.Decision) adminapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := adminapi.PathID(r, "id")
		if err != nil {
			return err
		}
		ps, err := a.store.Decide(r.Context(), []int64{id}, d, actor(r))
		if err != nil {
			return err
		}
		return adminapi.WriteJSON(w, http.StatusOK, ps[0])
	}
}

type decisionRequest struct {
	IDs      []int64        `json:"ids"`
	Decision store.Decision `json:"decision"`
}

// decideMany: POST /api/v1/pledges/decisions {"ids": [...], "decision":
// "approved"|"denied"}: all or nothing.
func (a *api) decideMany(w http.ResponseWriter, r *http.Request) error {
	var req decisionRequest
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	ps, err := a.store.Decide(r.Context(), req.IDs, req.Decision, actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, adminapi.ItemsOf(ps))
}

// pledgeCertificates: GET /api/v1/pledges/{id}/certificates.
func (a *api) pledgeCertificates(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := a.store.GetPledge(r.Context(), id); err != nil {
		return err
	}
	cs, err := a.store.ListCertificates(r.Context(), id)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, adminapi.ItemsOf(cs))
}

// listCertificates: GET /api/v1/certificates?limit=&cursor=
func (a *api) listCertificates(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "limit", "cursor")
	f := store.CertificateFilter{Limit: q.Limit(store.MaxLimit), Cursor: q.Cursor()}
	if err := q.Err(); err != nil {
		return err
	}
	page, err := a.store.AllCertificates(r.Context(), f)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, page)
}
