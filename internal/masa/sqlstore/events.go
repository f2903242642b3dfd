package sqlstore

import (
	"context"

	"github.com/landfall-io/landfall/internal/masa"
)

// ListEvents implements masa.Store, paged by id.
func (s *Store) ListEvents(ctx context.Context, f masa.EventFilter) ([]masa.AuditEvent, error) {
	return queryAll[masa.AuditEvent](ctx, s.db, "list events", `SELECT id, at, actor, action, COALESCE(serial_number, ''), detail
		FROM audit_events WHERE ($1 = '' OR serial_number = $1) AND id > $2 ORDER BY id LIMIT $3`,
		f.SerialNumber, f.After, f.Limit)
}
