package admin

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// listSessions: GET /api/v1/sessions?limit=&cursor=, the live ATLS
// key-export contexts, without their secrets.
func (a *api) listSessions(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "limit", "cursor")
	limit, cursor := q.Limit(store.MaxLimit), q.Cursor()
	if err := q.Err(); err != nil {
		return err
	}
	page, err := a.store.Contexts(r.Context(), limit, cursor)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, page)
}

// listReplicas: GET /api/v1/replicas, the replica registry.
func (a *api) listReplicas(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.ReadQuery(r).Err(); err != nil {
		return err
	}
	rs, err := a.store.Replicas(r.Context())
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, adminapi.ItemsOf(rs))
}

// listEvents: GET /api/v1/audit-events?action=&subject=&since=&until=&limit=&cursor=,
// newest first.
func (a *api) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "action", "subject", "since", "until", "limit", "cursor")
	f := store.EventFilter{Action: q.Str("action"), Subject: q.Str("subject"), Since: q.Time("since"), Until: q.Time("until"),
		Limit: q.Limit(store.MaxLimit), Cursor: q.Cursor()}
	if err := q.Err(); err != nil {
		return err
	}
	page, err := a.store.ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, page)
}
