package admin

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// pledgeDetail is one pledge with everything recorded about it.
type pledgeDetail struct {
	store.Pledge
	Exchanges    []store.Exchange    `json:"exchanges"`
	Telemetry    []store.Telemetry   `json:"telemetry"`
	Certificates []store.Certificate `json:"certificates"`
}

// listPledges: GET /api/v1/pledges?decision=&state=&manufacturer_id=&serial_prefix=&limit=&cursor=
func (a *api) listPledges(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "decision", "state", "manufacturer_id", "serial_prefix", "limit", "cursor")
	f := store.PledgeFilter{Decision: store.Decision(q.str("decision")), State: store.State(q.str("state")),
		ManufacturerID: q.int("manufacturer_id"), SerialPrefix: q.str("serial_prefix"), Limit: q.limit(), Cursor: q.str("cursor")}
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	page, err := a.store.ListPledges(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// getPledge: GET /api/v1/pledges/{id}, with its voucher exchanges,
// telemetry and certificates.
func (a *api) getPledge(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	ctx := r.Context()
	p, err := a.store.GetPledge(ctx, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := pledgeDetail{Pledge: *p}
	if d.Exchanges, err = a.store.ListExchanges(ctx, id); err == nil {
		if d.Telemetry, err = a.store.ListTelemetry(ctx, id); err == nil {
			d.Certificates, err = a.store.ListCertificates(ctx, id)
		}
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// decideOne: POST /api/v1/pledges/{id}/approve and .../deny.
func (a *api) decideOne(d store.Decision) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r, "id")
		if err != nil {
			a.fail(w, r, err)
			return
		}
		ps, err := a.store.Decide(r.Context(), []int64{id}, d, actor(r))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, ps[0])
	}
}

type decisionRequest struct {
	IDs      []int64        `json:"ids"`
	Decision store.Decision `json:"decision"`
}

// decideMany: POST /api/v1/pledges/decisions {"ids": [...], "decision":
// "approved"|"denied"}: all or nothing.
func (a *api) decideMany(w http.ResponseWriter, r *http.Request) {
	var req decisionRequest
	if err := decodeJSON(r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ps, err := a.store.Decide(r.Context(), req.IDs, req.Decision, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ps})
}

// pledgeCertificates: GET /api/v1/pledges/{id}/certificates.
func (a *api) pledgeCertificates(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.store.GetPledge(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	cs, err := a.store.ListCertificates(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": cs})
}

// listCertificates: GET /api/v1/certificates?limit=&cursor=
func (a *api) listCertificates(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "limit", "cursor")
	f := store.CertificateFilter{Limit: q.limit(), Cursor: q.str("cursor")}
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	page, err := a.store.AllCertificates(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}
