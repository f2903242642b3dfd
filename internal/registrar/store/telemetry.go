package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// Telemetry kinds: RFC 8995 5.7 voucher status and 5.9.4 enrollment status.
const (
	TelemetryVoucherStatus = "voucher-status"
	TelemetryEnrollStatus  = "enroll-status"
)

// Telemetry is one status report from a pledge.
type Telemetry struct {
	ID        int64           `json:"id"`
	PledgeID  int64           `json:"pledge_id"`
	Kind      string          `json:"kind"`
	Status    bool            `json:"status"`
	Reason    string          `json:"reason"`
	Body      json.RawMessage `json:"body"` // the report as the pledge sent it
	CreatedAt time.Time       `json:"created_at"`
}

// RecordTelemetry stores a pledge's status report. body must be JSON
// (RFC 8995 5.7 and 5.9.4 define JSON reports; a CBOR report is stored
// as its JSON rendering).
func (s *Store) RecordTelemetry(ctx context.Context, pledgeID int64, kind string, status bool, reason string, body json.RawMessage) error {
	if kind != TelemetryVoucherStatus && kind != TelemetryEnrollStatus {
		return invalidf("unknown telemetry kind %q", kind)
	}
	if !json.Valid(body) {
		return invalidf("telemetry body is not JSON")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO telemetry (pledge_id, kind, status, reason, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, pledgeID, kind, status, reason, string(body), s.clock())
	if pgCode(err) == codeForeignKeyViolation {
		return notFound("pledge", pledgeID)
	}
	return classify("record telemetry", err)
}

// ListTelemetry returns pledgeID's status reports, oldest first.
func (s *Store) ListTelemetry(ctx context.Context, pledgeID int64) ([]Telemetry, error) {
	rows, err := s.db.Query(ctx, `SELECT id, pledge_id, kind, status, reason, CAST(body AS text), created_at
		FROM telemetry WHERE pledge_id = $1 ORDER BY created_at, id`, pledgeID)
	if err != nil {
		return nil, classify("list telemetry", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Telemetry, error) {
		var t Telemetry
		var body string
		err := r.Scan(&t.ID, &t.PledgeID, &t.Kind, &t.Status, &t.Reason, &body, &t.CreatedAt)
		t.Body = json.RawMessage(body)
		return t, err
	})
	if err != nil {
		return nil, classify("list telemetry", err)
	}
	if ts == nil {
		ts = []Telemetry{}
	}
	return ts, nil
}
