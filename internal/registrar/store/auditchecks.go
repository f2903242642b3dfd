package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Audit-log check modes and verdicts, as the schema's CHECKs list them
// (RFC 8995 5.8: the registrar's judgement of the MASA audit log).
const (
	AuditModeWarn    = "warn"
	AuditModeEnforce = "enforce"

	AuditVerdictPass    = "pass"    // nothing the policy objects to
	AuditVerdictFlagged = "flagged" // findings: a prior owner, nonceless vouchers, too many vouchers
	AuditVerdictError   = "error"   // no log to judge: the MASA refused, was unreachable, or answered nonsense
)

// AuditFinding is one thing the policy objects to in the log.
type AuditFinding struct {
	Kind   string `json:"kind"` // prior-owner, nonceless, too-many
	Detail string `json:"detail"`
}

// AuditCheck is one check of a pledge's MASA audit log.
type AuditCheck struct {
	ID         int64          `json:"id"`
	PledgeID   int64          `json:"pledge_id"`
	ExchangeID int64          `json:"exchange_id"` // whose registrar voucher-request was sent
	Mode       string         `json:"mode"`
	Verdict    string         `json:"verdict"`
	Findings   []AuditFinding `json:"findings"`
	Vouchers   int64          `json:"vouchers"` // vouchers the log reports, truncated ones included
	Reason     string         `json:"reason"`   // why the verdict is error, or the findings in one line
	Replica    string         `json:"replica"`
	CheckedAt  time.Time      `json:"checked_at"`
}

// Overridden reports whether an operator approved p after c: an
// operator's approval (not the approval policy's, whose actor is
// "policy:...") recorded later than the check overrides it (RFC 8995 5.8.2:
// "A registrar MAY be configured to ignore ... the history of the device").
func (c *AuditCheck) Overridden(p *Pledge) bool {
	return p.Decision == DecisionApproved && p.DecidedAt != nil && p.DecidedAt.After(c.CheckedAt) &&
		!strings.HasPrefix(p.DecidedBy, "policy:")
}

// AuditLogOverridden reports whether the latest of a pledge's checks
// (oldest first) is overridden by the operator's approval of p: the
// operator approved after a check that already found what the latest
// finds (the same verdict; each finding's kind, and for prior owners the
// same domains). A pledge onboarding again after its approval is checked
// again and not refused for what the operator saw; a new prior owner, or
// a new kind of finding, needs a new approval.
func AuditLogOverridden(p *Pledge, checks []AuditCheck) bool {
	if len(checks) == 0 {
		return false
	}
	latest := checks[len(checks)-1]
	for _, c := range checks {
		if c.Overridden(p) && c.Verdict == latest.Verdict && covers(c.Findings, latest.Findings) {
			return true
		}
	}
	return false
}

// covers reports whether seen holds every finding of now: the same kind,
// and for prior owners the same detail (the domains and their counts of
// vouchers).
func covers(seen, now []AuditFinding) bool {
	for _, f := range now {
		found := false
		for _, g := range seen {
			if f.Kind == g.Kind && (f.Kind != "prior-owner" || f.Detail == g.Detail) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// RecordAuditCheck stores c (ID is assigned; CheckedAt is now) and returns
// it as stored.
func (s *Store) RecordAuditCheck(ctx context.Context, c AuditCheck) (*AuditCheck, error) {
	if c.Mode != AuditModeWarn && c.Mode != AuditModeEnforce {
		return nil, invalidf("unknown audit-log check mode %q", c.Mode)
	}
	switch c.Verdict {
	case AuditVerdictPass, AuditVerdictFlagged, AuditVerdictError:
	default:
		return nil, invalidf("unknown audit-log verdict %q", c.Verdict)
	}
	if c.Replica == "" || c.Vouchers < 0 {
		return nil, invalidf("an audit-log check needs its replica and a voucher count of zero or more")
	}
	if c.Findings == nil {
		c.Findings = []AuditFinding{}
	}
	findings, err := json.Marshal(c.Findings)
	if err != nil {
		return nil, invalidf("audit-log findings: %v", err)
	}
	c.CheckedAt = s.clock()
	err = s.db.QueryRow(ctx, `INSERT INTO audit_log_checks (pledge_id, exchange_id, mode, verdict, findings, vouchers, reason, replica, checked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		c.PledgeID, c.ExchangeID, c.Mode, c.Verdict, string(findings), c.Vouchers, c.Reason, c.Replica, c.CheckedAt).Scan(&c.ID)
	if pgCode(err) == codeForeignKeyViolation {
		return nil, notFound("pledge or exchange", c.PledgeID)
	}
	if err != nil {
		return nil, classify("record audit-log check", err)
	}
	return &c, nil
}

const auditCheckColumns = `id, pledge_id, exchange_id, mode, verdict, CAST(findings AS text), vouchers, reason, replica, checked_at`

func scanAuditCheck(row pgx.Row) (AuditCheck, error) {
	var c AuditCheck
	var findings string
	if err := row.Scan(&c.ID, &c.PledgeID, &c.ExchangeID, &c.Mode, &c.Verdict, &findings, &c.Vouchers, &c.Reason, &c.Replica, &c.CheckedAt); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(findings), &c.Findings); err != nil {
		return c, err
	}
	return c, nil
}

// LatestAuditCheck returns pledgeID's newest audit-log check; ErrNotFound
// when it has none.
func (s *Store) LatestAuditCheck(ctx context.Context, pledgeID int64) (*AuditCheck, error) {
	c, err := scanAuditCheck(s.db.QueryRow(ctx, `SELECT `+auditCheckColumns+` FROM audit_log_checks
		WHERE pledge_id = $1 ORDER BY id DESC LIMIT 1`, pledgeID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("audit-log check of pledge", pledgeID)
	}
	if err != nil {
		return nil, classify("latest audit-log check", err)
	}
	return &c, nil
}

// ListAuditChecks returns pledgeID's audit-log checks, oldest first.
func (s *Store) ListAuditChecks(ctx context.Context, pledgeID int64) ([]AuditCheck, error) {
	rows, err := s.db.Query(ctx, `SELECT `+auditCheckColumns+` FROM audit_log_checks WHERE pledge_id = $1 ORDER BY id`, pledgeID)
	if err != nil {
		return nil, classify("list audit-log checks", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditCheck, error) { return scanAuditCheck(r) })
	if err != nil {
		return nil, classify("list audit-log checks", err)
	}
	if cs == nil {
		cs = []AuditCheck{}
	}
	return cs, nil
}
