package registrarui

import (
	"net/http"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// staleAfter is how old a replica's heartbeat may be before the page
// marks it stale.
const staleAfter = 30 * time.Second

// liveView is the replicas and sessions page.
type liveView struct {
	Replica  string
	Stats    *ATLSStats
	Replicas []replicaRow
	Sessions []store.Context
	Next     string
}

type replicaRow struct {
	store.Replica
	Stale bool
}

// live: GET /live?cursor=, the replica registry (as GET /api/v1/replicas),
// the live ATLS key-export contexts of every replica, keyset-paged (as GET
// /api/v1/sessions), and this replica's session table; the page refreshes
// its tables through htmx every 5 seconds.
func (u *ui) live(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "cursor")
	cursor := q.Cursor()
	if err := q.Err(); err != nil {
		return err
	}
	rs, err := u.s.Replicas(r.Context())
	if err != nil {
		return err
	}
	page, err := u.s.Contexts(r.Context(), pageSize, cursor)
	if err != nil {
		return err
	}
	v := liveView{Replica: u.opt.Replica, Sessions: page.Items, Next: page.Next}
	now := u.opt.Now()
	for _, rp := range rs {
		v.Replicas = append(v.Replicas, replicaRow{Replica: rp, Stale: now.Sub(rp.HeartbeatAt) > staleAfter})
	}
	if u.opt.Stats != nil {
		st := u.opt.Stats()
		v.Stats = &st
	}
	return u.c.Render(w, r, web.Page{Name: "live", Title: "Replicas and sessions", Data: v})
}
