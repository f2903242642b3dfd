package admin

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// listSessions: GET /api/v1/sessions?limit=&cursor=, the live ATLS
// key-export contexts, without their secrets.
func (a *api) listSessions(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "limit", "cursor")
	limit, cursor := q.limit(), q.str("cursor")
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	page, err := a.store.Contexts(r.Context(), limit, cursor)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// listReplicas: GET /api/v1/replicas, the replica registry.
func (a *api) listReplicas(w http.ResponseWriter, r *http.Request) {
	if q := readQuery(r); q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	rs, err := a.store.Replicas(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": rs})
}

// listEvents: GET /api/v1/audit-events?action=&subject=&since=&until=&limit=&cursor=,
// newest first.
func (a *api) listEvents(w http.ResponseWriter, r *http.Request) {
	q := readQuery(r, "action", "subject", "since", "until", "limit", "cursor")
	f := store.EventFilter{Action: q.str("action"), Subject: q.str("subject"), Since: q.time("since"), Until: q.time("until"),
		Limit: q.limit(), Cursor: q.str("cursor")}
	if q.err != nil {
		a.fail(w, r, q.err)
		return
	}
	page, err := a.store.ListEvents(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}
