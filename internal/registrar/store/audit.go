package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event is one entry of the audit trail: who (Actor) did what (Action,
// e.g. "pledge.approve") to which object (Subject, e.g. "pledge:42").
type Event struct {
	ID      int64          `json:"id"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Subject string         `json:"subject"`
	Detail  map[string]any `json:"detail"`
}

// EventFilter selects audit events; zero fields select everything.
// Since is inclusive, Until exclusive.
type EventFilter struct {
	Action  string
	Subject string
	Since   time.Time
	Until   time.Time
	Limit   int
	Cursor  string
}

// Append adds ev to the audit trail, stamped with the store's clock.
func (s *Store) Append(ctx context.Context, ev Event) error {
	return s.inTx(ctx, "append audit event", func(tx pgx.Tx) error { return s.appendTx(ctx, tx, ev) })
}

// appendTx writes ev inside tx, so that an event exists exactly when the
// change it describes was committed.
func (s *Store) appendTx(ctx context.Context, tx pgx.Tx, ev Event) error {
	if ev.Actor == "" || ev.Action == "" {
		return invalidf("audit event needs an actor and an action")
	}
	detail := ev.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return wrapf("audit detail", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_events (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)`,
		s.clock(), ev.Actor, ev.Action, ev.Subject, b)
	return err
}

// ListEvents returns audit events, newest first.
func (s *Store) ListEvents(ctx context.Context, f EventFilter) (Page[Event], error) {
	limit, err := limitOf(f.Limit)
	if err != nil {
		return Page[Event]{}, err
	}
	var after int64
	hasCursor, err := decodeCursor(f.Cursor, &after)
	if err != nil {
		return Page[Event]{}, err
	}
	var since, until *time.Time
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	rows, err := s.db.Query(ctx, `SELECT id, at, actor, action, subject, detail FROM audit_events
		WHERE ($1 = '' OR action = $1) AND ($2 = '' OR subject = $2)
		  AND (`+s.sql("$3::timestamptz", "$3")+` IS NULL OR at >= $3) AND (`+s.sql("$4::timestamptz", "$4")+` IS NULL OR at < $4)
		  AND (NOT $5 OR id < $6)
		ORDER BY id DESC LIMIT $7`,
		f.Action, f.Subject, since, until, hasCursor, after, limit+1)
	if err != nil {
		return Page[Event]{}, classify("list audit events", err)
	}
	evs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var ev Event
		err := r.Scan(&ev.ID, &ev.At, &ev.Actor, &ev.Action, &ev.Subject, &ev.Detail)
		return ev, err
	})
	if err != nil {
		return Page[Event]{}, classify("list audit events", err)
	}
	return pageOf(evs, limit, func(ev Event) string { return encodeCursor(ev.ID) }), nil
}
