package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Outcome is how a voucher exchange ended, as the schema's CHECK lists.
type Outcome string

// Outcomes of a voucher exchange (RFC 8995 5.5-5.6).
const (
	OutcomeHeld            Outcome = "held"             // pending an operator; the pledge got 202
	OutcomeDenied          Outcome = "denied"           // the registrar refused the pledge (403)
	OutcomeIssued          Outcome = "issued"           // the MASA issued a voucher
	OutcomeMASAPending     Outcome = "masa-pending"     // the MASA answered 202
	OutcomeMASARefused     Outcome = "masa-refused"     // the MASA answered 4xx/5xx
	OutcomeMASAUnreachable Outcome = "masa-unreachable" // no answer from the MASA
	OutcomeRejected        Outcome = "rejected"         // the pledge's request was invalid
)

var outcomes = []Outcome{OutcomeHeld, OutcomeDenied, OutcomeIssued, OutcomeMASAPending,
	OutcomeMASARefused, OutcomeMASAUnreachable, OutcomeRejected}

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool { return slices.Contains(outcomes, o) }

// Exchange is one voucher exchange, its messages kept as received.
type Exchange struct {
	ID               int64     `json:"id"`
	PledgeID         int64     `json:"pledge_id"`
	PledgeRequest    []byte    `json:"pledge_request"`              // CMS, from the pledge
	RegistrarRequest []byte    `json:"registrar_request,omitempty"` // CMS, to the MASA
	Voucher          []byte    `json:"voucher,omitempty"`           // CMS, from the MASA
	Nonce            string    `json:"nonce,omitempty"`
	Outcome          Outcome   `json:"outcome"`
	MASAStatus       int       `json:"masa_status,omitempty"` // 0: no HTTP answer
	Reason           string    `json:"reason"`
	Replica          string    `json:"replica"`
	CreatedAt        time.Time `json:"created_at"`
	// IDevIDSHA256 is the SHA-256 of the IDevID (DER) that made the
	// request: enrollment needs a voucher issued to that same IDevID.
	IDevIDSHA256 []byte `json:"idevid_sha256,omitempty"`
}

// RecordExchange stores e (ID and CreatedAt are assigned) and returns its id.
func (s *Store) RecordExchange(ctx context.Context, e Exchange) (int64, error) {
	if !e.Outcome.Valid() {
		return 0, invalidf("unknown outcome %q", e.Outcome)
	}
	args, err := exchangeArgs(e, s.clock())
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.db.QueryRow(ctx, insertExchange, args...).Scan(&id)
	if pgCode(err) == codeForeignKeyViolation {
		return 0, notFound("pledge", e.PledgeID)
	}
	return id, classify("record exchange", err)
}

// insertExchange stores one exchange from exchangeArgs ($1-$11).
const insertExchange = `INSERT INTO voucher_exchanges (pledge_id, pledge_request, registrar_request,
		voucher, nonce, outcome, masa_status, reason, replica, created_at, idevid_sha256)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`

// exchangeArgs are insertExchange's arguments for e, recorded at now.
func exchangeArgs(e Exchange, now time.Time) ([]any, error) {
	if len(e.PledgeRequest) == 0 || e.Replica == "" {
		return nil, invalidf("an exchange needs the pledge's request and the replica")
	}
	var status *int
	if e.MASAStatus != 0 {
		status = &e.MASAStatus
	}
	return []any{e.PledgeID, e.PledgeRequest, nilIfEmpty(e.RegistrarRequest), nilIfEmpty(e.Voucher), nullIfEmpty(e.Nonce),
		string(e.Outcome), status, e.Reason, e.Replica, now, nilIfEmpty(e.IDevIDSHA256)}, nil
}

// RecordIssued stores e, an exchange that issued a voucher, and moves its
// pledge to voucher-issued (RFC 8995 5.6), atomically: on PostgreSQL in
// one statement (the UPDATE in a WITH clause), on SQLite in one
// transaction. It returns the exchange's id.
func (s *Store) RecordIssued(ctx context.Context, e Exchange) (int64, error) {
	if e.Outcome != OutcomeIssued {
		return 0, invalidf("RecordIssued records issued exchanges, not %q", e.Outcome)
	}
	now := s.clock()
	args, err := exchangeArgs(e, now)
	if err != nil {
		return 0, err
	}
	var id int64
	if s.onPostgreSQL() {
		// A data-modifying WITH runs whether or not the INSERT reads it; an
		// unknown pledge fails the INSERT's foreign key, and the whole
		// statement with it.
		err = s.db.QueryRow(ctx, `WITH moved AS (UPDATE pledges SET state = $12, updated_at = $10 WHERE id = $1)
			`+insertExchange, append(args, string(StateVoucherIssued))...).Scan(&id)
	} else {
		err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, insertExchange, args...).Scan(&id); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE pledges SET state = $2, updated_at = $3 WHERE id = $1`, e.PledgeID, string(StateVoucherIssued), now)
			return err
		})
	}
	if pgCode(err) == codeForeignKeyViolation {
		return 0, notFound("pledge", e.PledgeID)
	}
	return id, classify("record issued exchange", err)
}

// ListExchanges returns pledgeID's voucher exchanges, oldest first.
func (s *Store) ListExchanges(ctx context.Context, pledgeID int64) ([]Exchange, error) {
	rows, err := s.db.Query(ctx, `SELECT id, pledge_id, pledge_request, registrar_request, voucher,
			coalesce(nonce, ''), outcome, coalesce(masa_status, 0), reason, replica, created_at, idevid_sha256
		FROM voucher_exchanges WHERE pledge_id = $1 ORDER BY created_at, id`, pledgeID)
	if err != nil {
		return nil, classify("list exchanges", err)
	}
	es, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Exchange])
	if err != nil {
		return nil, classify("list exchanges", err)
	}
	if es == nil {
		es = []Exchange{}
	}
	return es, nil
}

// LatestExchange returns pledgeID's most recent voucher exchange, or
// ErrNotFound if it has none. Enrollment is decided on it (RFC 8995 5.9:
// the registrar enrolls a pledge it obtained a voucher for): an earlier
// voucher does not count once a later request was refused, as after the
// device was sold on.
func (s *Store) LatestExchange(ctx context.Context, pledgeID int64) (*Exchange, error) {
	rows, err := s.db.Query(ctx, `SELECT id, pledge_id, pledge_request, registrar_request, voucher,
			coalesce(nonce, ''), outcome, coalesce(masa_status, 0), reason, replica, created_at, idevid_sha256
		FROM voucher_exchanges WHERE pledge_id = $1 ORDER BY id DESC LIMIT 1`, pledgeID)
	if err != nil {
		return nil, classify("latest exchange", err)
	}
	e, err := pgx.CollectOneRow(rows, pgx.RowToStructByPos[Exchange])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("exchange of pledge", pledgeID)
	}
	if err != nil {
		return nil, classify("latest exchange", err)
	}
	return &e, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
