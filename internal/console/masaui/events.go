package masaui

import (
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/masa"
)

// eventsView is a page of the MASA's audit trail.
type eventsView struct {
	SerialNumber string
	Items        []masa.AuditEvent
	Next         string
}

// events: GET /events?serial_number=&cursor= (auditor), the store's
// ListEvents keyset-paged oldest first, as GET /admin/v1/events: who
// minted, imported, sold and changed what.
func (u *ui) events(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "serial_number", "cursor")
	v := eventsView{SerialNumber: strings.TrimSpace(q.Str("serial_number"))}
	f := masa.EventFilter{SerialNumber: v.SerialNumber, Limit: pageSize + 1}
	if err := q.Err(); err != nil {
		return err
	}
	if _, err := adminapi.DecodeCursor(q.Cursor(), &f.After); err != nil {
		return err
	}
	es, err := u.svc.Store().ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	page := adminapi.PageOf(es, pageSize, func(e masa.AuditEvent) []any { return []any{e.ID} })
	v.Items, v.Next = page.Items, page.Next
	return u.c.Render(w, r, web.Page{Name: "events", Title: "Audit log", Data: v})
}
