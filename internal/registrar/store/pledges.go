package store

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Decision is the verdict on a pledge: an operator's, or the approval
// policy's (RFC 8995 5.5 leaves the registrar's authorization local).
type Decision string

// Decisions, as the schema's CHECK lists them.
const (
	DecisionPending  Decision = "pending"
	DecisionApproved Decision = "approved"
	DecisionDenied   Decision = "denied"
)

// State is how far a pledge's onboarding got.
type State string

// States, as the schema's CHECK lists them.
const (
	StateNew              State = "new"
	StateVoucherRequested State = "voucher-requested" // RFC 8995 5.2
	StateVoucherIssued    State = "voucher-issued"    // 5.6
	StateVoucherAccepted  State = "voucher-accepted"  // 5.7, status true
	StateVoucherRejected  State = "voucher-rejected"  // 5.7, status false
	StateEnrolled         State = "enrolled"          // 5.9.3
	StateEnrollFailed     State = "enroll-failed"     // 5.9.4, status false
)

var states = []State{StateNew, StateVoucherRequested, StateVoucherIssued, StateVoucherAccepted,
	StateVoucherRejected, StateEnrolled, StateEnrollFailed}

// Valid reports whether d is one of the decisions.
func (d Decision) Valid() bool {
	return d == DecisionPending || d == DecisionApproved || d == DecisionDenied
}

// Valid reports whether st is one of the states.
func (st State) Valid() bool { return slices.Contains(states, st) }

// Pledge is a device known by its manufacturer and serial number.
type Pledge struct {
	ID             int64      `json:"id"`
	ManufacturerID int64      `json:"manufacturer_id"`
	Serial         string     `json:"serial"`
	IDevID         []byte     `json:"idevid"` // DER, as last presented
	Decision       Decision   `json:"decision"`
	DecidedBy      string     `json:"decided_by,omitempty"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	State          State      `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// PledgeFilter selects pledges; zero fields select everything.
type PledgeFilter struct {
	Decision       Decision
	State          State
	ManufacturerID int64
	SerialPrefix   string
	Limit          int
	Cursor         string
}

// MaxBulkDecide caps how many pledges one Decide call may change.
const MaxBulkDecide = 1000

const pledgeColumns = `id, manufacturer_id, serial, idevid, decision, coalesce(decided_by, ''), decided_at, state, created_at, updated_at`

func scanPledge(row pgx.Row) (Pledge, error) {
	var p Pledge
	err := row.Scan(&p.ID, &p.ManufacturerID, &p.Serial, &p.IDevID, &p.Decision, &p.DecidedBy, &p.DecidedAt, &p.State, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

func collectPledges(rows pgx.Rows) ([]Pledge, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Pledge, error) { return scanPledge(r) })
}

// Touch records a pledge's contact (RFC 8995 5.5: the registrar has
// authenticated its IDevID): the first contact creates the pledge, pending
// and new; a later one refreshes its IDevID. Either way it returns the
// pledge with its current decision and state. Concurrent first contacts
// from many replicas create one row.
func (s *Store) Touch(ctx context.Context, manufacturerID int64, serial string, idevidDER []byte) (*Pledge, error) {
	if serial == "" || len([]rune(serial)) > MaxSerialLen {
		return nil, invalidf("serial must be 1 to %d characters", MaxSerialLen)
	}
	if len(idevidDER) == 0 {
		return nil, invalidf("an IDevID is required")
	}
	now := s.clock()
	p, err := scanPledge(s.db.QueryRow(ctx, `INSERT INTO pledges (manufacturer_id, serial, idevid, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (manufacturer_id, serial) DO UPDATE SET idevid = EXCLUDED.idevid, updated_at = EXCLUDED.updated_at
		RETURNING `+pledgeColumns, manufacturerID, serial, idevidDER, now))
	if pgCode(err) == codeForeignKeyViolation {
		return nil, notFound("manufacturer", manufacturerID)
	}
	if err != nil {
		return nil, classify("touch pledge", err)
	}
	return &p, nil
}

// GetPledge returns pledge id.
func (s *Store) GetPledge(ctx context.Context, id int64) (*Pledge, error) {
	p, err := scanPledge(s.db.QueryRow(ctx, `SELECT `+pledgeColumns+` FROM pledges WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("pledge", id)
	}
	if err != nil {
		return nil, classify("get pledge", err)
	}
	return &p, nil
}

// FindPledge returns the pledge with manufacturerID's serial.
func (s *Store) FindPledge(ctx context.Context, manufacturerID int64, serial string) (*Pledge, error) {
	p, err := scanPledge(s.db.QueryRow(ctx, `SELECT `+pledgeColumns+` FROM pledges
		WHERE manufacturer_id = $1 AND serial = $2`, manufacturerID, serial))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("pledge", strconv.FormatInt(manufacturerID, 10)+"/"+serial)
	}
	if err != nil {
		return nil, classify("find pledge", err)
	}
	return &p, nil
}

// ListPledges returns the pledges f selects, oldest first (by id).
func (s *Store) ListPledges(ctx context.Context, f PledgeFilter) (Page[Pledge], error) {
	limit, err := limitOf(f.Limit)
	if err != nil {
		return Page[Pledge]{}, err
	}
	if f.Decision != "" && !f.Decision.Valid() {
		return Page[Pledge]{}, invalidf("unknown decision %q", f.Decision)
	}
	if f.State != "" && !f.State.Valid() {
		return Page[Pledge]{}, invalidf("unknown state %q", f.State)
	}
	var after int64
	if _, err := decodeCursor(f.Cursor, &after); err != nil {
		return Page[Pledge]{}, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+pledgeColumns+` FROM pledges
		WHERE id > $1 AND ($2 = '' OR decision = $2) AND ($3 = '' OR state = $3)
		  AND ($4 = 0 OR manufacturer_id = $4) AND substr(serial, 1, length($5)) = $5
		ORDER BY id LIMIT $6`,
		after, string(f.Decision), string(f.State), f.ManufacturerID, f.SerialPrefix, limit+1)
	if err != nil {
		return Page[Pledge]{}, classify("list pledges", err)
	}
	ps, err := collectPledges(rows)
	if err != nil {
		return Page[Pledge]{}, classify("list pledges", err)
	}
	return pageOf(ps, limit, func(p Pledge) string { return encodeCursor(p.ID) }), nil
}

// Decide sets the decision on every pledge in ids, recording actor and
// one audit event per pledge, all in one transaction. If any id is
// unknown, nothing changes and the error is a *NotFoundError naming it.
// It returns the pledges as changed, in the order of ids.
func (s *Store) Decide(ctx context.Context, ids []int64, decision Decision, actor string) ([]Pledge, error) {
	if decision != DecisionApproved && decision != DecisionDenied {
		return nil, invalidf("decision must be approved or denied")
	}
	if len(ids) == 0 || len(ids) > MaxBulkDecide {
		return nil, invalidf("between 1 and %d pledge ids are required", MaxBulkDecide)
	}
	uniq := slices.Clone(ids)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	if len(uniq) == 1 && s.onPostgreSQL() {
		return s.decideOne(ctx, ids, decision, actor)
	}
	var out []Pledge
	err := s.inTx(ctx, "decide", func(tx pgx.Tx) error {
		now := s.clock()
		rows, err := tx.Query(ctx, `UPDATE pledges SET decision = $2, decided_by = $3, decided_at = $4, updated_at = $4
			WHERE id `+s.sql("= ANY($1)", "IN (SELECT value FROM json_each($1))")+` RETURNING `+pledgeColumns, uniq, string(decision), actor, now)
		if err != nil {
			return err
		}
		changed, err := collectPledges(rows)
		if err != nil {
			return err
		}
		byID := make(map[int64]Pledge, len(changed))
		for _, p := range changed {
			byID[p.ID] = p
		}
		for _, id := range ids {
			if _, ok := byID[id]; !ok {
				return notFound("pledge", id) // rolls the UPDATE back
			}
		}
		action := decisionAction(decision)
		for _, id := range uniq {
			err := s.appendTx(ctx, tx, Event{Actor: actor, Action: action, Subject: pledgeSubject(id),
				Detail: map[string]any{"serial": byID[id].Serial, "manufacturer_id": byID[id].ManufacturerID, "bulk": len(uniq) > 1}})
			if err != nil {
				return err
			}
		}
		for _, id := range ids {
			out = append(out, byID[id])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decideOne is Decide for a single pledge on PostgreSQL (the approval
// policy's decision, one per onboarding), in one statement: the UPDATE
// and its audit event (the INSERT in a WITH clause reading the UPDATE's
// row) commit together, and an unknown id changes nothing. ids may
// repeat the one id.
func (s *Store) decideOne(ctx context.Context, ids []int64, decision Decision, actor string) ([]Pledge, error) {
	now := s.clock()
	rows, err := s.db.Query(ctx, `WITH up AS (
			UPDATE pledges SET decision = $2, decided_by = $3, decided_at = $4, updated_at = $4 WHERE id = $1
			RETURNING `+pledgeColumns+`),
		ev AS (INSERT INTO audit_events (at, actor, action, subject, detail)
			SELECT $4, $3, $5, $6, jsonb_build_object('bulk', false, 'manufacturer_id', manufacturer_id, 'serial', serial) FROM up)
		SELECT * FROM up`, ids[0], string(decision), actor, now, decisionAction(decision), pledgeSubject(ids[0]))
	if err != nil {
		return nil, classify("decide", err)
	}
	changed, err := collectPledges(rows)
	if err != nil {
		return nil, classify("decide", err)
	}
	if len(changed) == 0 {
		return nil, notFound("pledge", ids[0])
	}
	out := make([]Pledge, len(ids))
	for i := range out {
		out[i] = changed[0]
	}
	return out, nil
}

// decisionAction is the audit action a decision is recorded under.
func decisionAction(d Decision) string {
	if d == DecisionDenied {
		return "pledge.deny"
	}
	return "pledge.approve"
}

// SetState records how far pledge id's onboarding got.
func (s *Store) SetState(ctx context.Context, id int64, state State) error {
	if !state.Valid() {
		return invalidf("unknown state %q", state)
	}
	tag, err := s.db.Exec(ctx, `UPDATE pledges SET state = $2, updated_at = $3 WHERE id = $1`, id, string(state), s.clock())
	if err != nil {
		return classify("set pledge state", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("pledge", id)
	}
	return nil
}

func pledgeSubject(id int64) string { return "pledge:" + strconv.FormatInt(id, 10) }
