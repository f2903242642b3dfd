package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
)

// AuditEvent is one entry of the MASA's own audit trail (who did what to
// which device), as the admin API shows it. Detail is what the service
// recorded with the action, as it recorded it.
type AuditEvent struct {
	ID           int64          `json:"id"`
	At           time.Time      `json:"at"`
	Actor        string         `json:"actor"`
	Action       string         `json:"action"`
	SerialNumber string         `json:"serial_number,omitempty"`
	Detail       map[string]any `json:"detail,omitempty"`
}

func auditEventOf(e masa.AuditEvent) AuditEvent {
	return AuditEvent{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, SerialNumber: e.SerialNumber, Detail: e.Detail}
}

// listEvents: GET /admin/v1/events?serial_number=&format=&limit=&cursor=
// (auditor), oldest first.
func (a *adminAPI) listEvents(w http.ResponseWriter, r *http.Request) error {
	q, format, limit, err := listQuery(r, "serial_number")
	if err != nil {
		return err
	}
	f := masa.EventFilter{SerialNumber: q.Str("serial_number"), Limit: limit + 1}
	if _, err := adminapi.DecodeCursor(q.Cursor(), &f.After); err != nil {
		return err
	}
	es, err := a.svc.Store().ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	page := adminapi.PageOf(mapSlice(es, auditEventOf), limit, func(e AuditEvent) []any { return []any{e.ID} })
	return adminapi.WriteExport(w, format, page, []string{"id", "at", "actor", "action", "serial_number", "detail"},
		func(e AuditEvent) []string {
			d, _ := json.Marshal(e.Detail)
			return []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.SerialNumber, string(d)}
		})
}
