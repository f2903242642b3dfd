package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// Report is a pledge's status report (RFC 8995 5.7, 5.9.4) as RecordReport
// takes it: the report, and the state move it may cause.
type Report struct {
	Kind   string // TelemetryVoucherStatus or TelemetryEnrollStatus
	Status bool
	Reason string
	Body   json.RawMessage // JSON, as RecordTelemetry takes it
	// The pledge moves to Next if its state is one of From (and is not
	// Next already); otherwise its state is left as it is.
	From []State
	Next State
}

// RecordReport finds the pledge with manufacturerID's serial, records its
// report and applies the report's state move, atomically: on PostgreSQL
// in one statement (one round trip), on SQLite in one transaction. It
// returns the pledge as it was before the report; an unknown pledge is
// ErrNotFound and records nothing.
func (s *Store) RecordReport(ctx context.Context, manufacturerID int64, serial string, r Report) (*Pledge, error) {
	if r.Kind != TelemetryVoucherStatus && r.Kind != TelemetryEnrollStatus {
		return nil, invalidf("unknown telemetry kind %q", r.Kind)
	}
	if !json.Valid(r.Body) {
		return nil, invalidf("telemetry body is not JSON")
	}
	if !r.Next.Valid() {
		return nil, invalidf("unknown state %q", r.Next)
	}
	from := make([]string, len(r.From))
	for i, st := range r.From {
		from[i] = string(st)
	}
	now := s.clock()
	var p Pledge
	var err error
	if s.onPostgreSQL() {
		p, err = scanPledge(s.db.QueryRow(ctx, `WITH p AS (
				SELECT `+pledgeColumns+` FROM pledges WHERE manufacturer_id = $1 AND serial = $2),
			moved AS (UPDATE pledges SET state = $8, updated_at = $7
				WHERE id = (SELECT id FROM p) AND state = ANY($9) AND state <> $8),
			ins AS (INSERT INTO telemetry (pledge_id, kind, status, reason, body, created_at)
				SELECT id, $3, $4, $5, $6, $7 FROM p)
			SELECT * FROM p`,
			manufacturerID, serial, r.Kind, r.Status, r.Reason, string(r.Body), now, string(r.Next), from))
	} else {
		err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			var err error
			p, err = scanPledge(tx.QueryRow(ctx, `SELECT `+pledgeColumns+` FROM pledges WHERE manufacturer_id = $1 AND serial = $2`,
				manufacturerID, serial))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO telemetry (pledge_id, kind, status, reason, body, created_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, p.ID, r.Kind, r.Status, r.Reason, string(r.Body), now); err != nil {
				return err
			}
			if p.State == r.Next || !slices.Contains(r.From, p.State) {
				return nil
			}
			_, err = tx.Exec(ctx, `UPDATE pledges SET state = $2, updated_at = $3 WHERE id = $1`, p.ID, string(r.Next), now)
			return err
		})
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("pledge", strconv.FormatInt(manufacturerID, 10)+"/"+serial)
	}
	if err != nil {
		return nil, classify("record report", err)
	}
	return &p, nil
}
