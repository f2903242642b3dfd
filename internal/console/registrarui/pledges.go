package registrarui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// pageSize is how many rows a list page shows.
const pageSize = 50

// pledgesView is the pledge list's data.
type pledgesView struct {
	Decision      string // the filter: pending, approved, denied or "" (all)
	SerialPrefix  string
	Items         []store.Pledge
	Next          string
	Manufacturers map[int64]string
}

// pledges: GET /pledges?decision=&serial_prefix=&cursor=, keyset-paged
// through the store's ListPledges, as GET /api/v1/pledges. The default is
// the pledges waiting for a decision.
func (u *ui) pledges(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "decision", "serial_prefix", "cursor")
	v := pledgesView{Decision: q.Str("decision"), SerialPrefix: q.Str("serial_prefix")}
	cursor := q.Cursor()
	if err := q.Err(); err != nil {
		return err
	}
	if !r.URL.Query().Has("decision") {
		v.Decision = string(store.DecisionPending)
	}
	page, err := u.s.ListPledges(r.Context(), store.PledgeFilter{Decision: store.Decision(v.Decision), SerialPrefix: v.SerialPrefix,
		Limit: pageSize, Cursor: cursor})
	if err != nil {
		return err
	}
	v.Items, v.Next = page.Items, page.Next
	if v.Manufacturers, err = u.manufacturerNames(r); err != nil {
		return err
	}
	return u.c.Render(w, r, web.Page{Name: "pledges", Title: "Pledges", Data: v})
}

func (u *ui) manufacturerNames(r *http.Request) (map[int64]string, error) {
	ms, err := u.s.ListManufacturers(r.Context())
	if err != nil {
		return nil, err
	}
	names := make(map[int64]string, len(ms))
	for _, m := range ms {
		names[m.ID] = m.Name
	}
	return names, nil
}

// decideOne: POST /pledges/{id}/approve and .../deny (operator), the
// store's Decide as POST /api/v1/pledges/{id}/approve calls it.
func (u *ui) decideOne(d store.Decision) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := adminapi.PathID(r, "id")
		if err != nil {
			return err
		}
		if err := u.c.ParseForm(r); err != nil {
			return err
		}
		ps, err := u.s.Decide(r.Context(), []int64{id}, d, u.actor(r))
		if err != nil {
			return err
		}
		u.c.Flash(w, r, fmt.Sprintf("Pledge %s is %s.", ps[0].Serial, d))
		if r.PostFormValue("return") == "story" {
			return u.c.Redirect(w, r, "/pledges/"+strconv.FormatInt(id, 10))
		}
		return u.c.Redirect(w, r, "/pledges")
	}
}

// decideMany: POST /pledges/decisions ids=1&ids=2&decision=approved
// (operator): all or nothing, as POST /api/v1/pledges/decisions.
func (u *ui) decideMany(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	var ids []int64
	for _, s := range r.PostForm["ids"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return web.Errorf(http.StatusBadRequest, "pledge id %q is not a positive integer", s)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return web.Errorf(http.StatusBadRequest, "select the pledges to decide")
	}
	d := store.Decision(r.PostFormValue("decision"))
	ps, err := u.s.Decide(r.Context(), ids, d, u.actor(r))
	if err != nil {
		return err
	}
	serials := make([]string, len(ps))
	for i, p := range ps {
		serials[i] = p.Serial
	}
	u.c.Flash(w, r, fmt.Sprintf("%d pledge(s) %s: %s.", len(ps), d, strings.Join(serials, ", ")))
	return u.c.Redirect(w, r, "/pledges")
}

// storyView is a pledge's page.
type storyView struct {
	admin.PledgeDetail
	Manufacturer string
	Events       []store.Event
	MoreEvents   bool
}

// story: GET /pledges/{id}, everything recorded about one pledge: its
// voucher exchanges, telemetry, certificates (admin.PledgeStory, as GET
// /api/v1/pledges/{id}) and its audit trail.
func (u *ui) story(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	d, err := admin.PledgeStory(r.Context(), u.s, id)
	if err != nil {
		return err
	}
	v := storyView{PledgeDetail: d}
	if m, err := u.s.GetManufacturer(r.Context(), d.ManufacturerID); err == nil {
		v.Manufacturer = m.Name
	}
	ev, err := u.s.ListEvents(r.Context(), store.EventFilter{Subject: "pledge:" + strconv.FormatInt(id, 10), Limit: pageSize})
	if err != nil {
		return err
	}
	v.Events, v.MoreEvents = ev.Items, ev.Next != ""
	return u.c.Render(w, r, web.Page{Name: "story", Title: "Pledge " + d.Serial, Data: v})
}
