package registrar

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// This file is the registrar's check of the MASA audit log (RFC 8995 5.8):
// after a pledge reports that it accepted its voucher (5.7), the registrar
// fetches the log of the vouchers the MASA issued for the device and
// judges it by local policy (5.8.2: "A registrar SHOULD use the log
// information to make an informed decision regarding the continued
// bootstrapping of the pledge"). Under enforce, a log the policy objects
// to, or no log, refuses the pledge's EST requests ("The registrar MUST
// then refuse any EST actions and SHOULD inform a human via a log") until
// an operator approves the pledge after a check ("A registrar MAY be
// configured to ignore ... the history of the device"). The judgement
// itself is auditcheck_policy.go.

// AuditLogMode says what the registrar does with the MASA audit log.
type AuditLogMode string

// The modes.
const (
	AuditLogOff     AuditLogMode = "off"     // never fetched
	AuditLogWarn    AuditLogMode = "warn"    // fetched, judged, recorded, counted and logged
	AuditLogEnforce AuditLogMode = "enforce" // warn, and EST refused (403) on a flagged or failed check until an operator approves
)

// AuditLogPolicy is what the registrar objects to in an audit log (RFC
// 8995 5.8.2's "relatively simple policy": known domainIDs only, every
// voucher with a nonce), and what it then does. The zero value is off.
type AuditLogPolicy struct {
	Mode AuditLogMode
	// AllowedDomainIDs are domainIDs (base64, as the log writes them) of
	// other domains that are not prior owners to object to: the
	// operator's own other domains, a reseller's.
	AllowedDomainIDs []string
	// AllowNonceless accepts nonceless vouchers in the log (5.8.2: "the
	// logged domainID could theoretically trigger a reset of the pledge
	// and then take over management by using the existing nonceless
	// voucher").
	AllowNonceless bool
	// MaxVouchers, when positive, is the most vouchers the log may
	// report, truncated ones included.
	MaxVouchers int
}

// validate fills the default mode and refuses an unknown one.
func (p *AuditLogPolicy) validate() error {
	switch p.Mode {
	case "":
		p.Mode = AuditLogOff
	case AuditLogOff, AuditLogWarn, AuditLogEnforce:
	default:
		return fmt.Errorf("registrar: unknown audit-log mode %q (off, warn or enforce)", p.Mode)
	}
	if p.MaxVouchers < 0 {
		return fmt.Errorf("registrar: audit-log voucher limit %d is negative", p.MaxVouchers)
	}
	return nil
}

// AuditLogSource fetches a device's audit log from its MASA (RFC 8995
// 5.8): request is the registrar voucher-request signed in format f.
// *MASAClient satisfies it.
type AuditLogSource interface {
	RequestAuditLog(ctx context.Context, masaURL string, anchor *x509.Certificate, request []byte, f voucher.Format) ([]byte, error)
}

// auditCheckStore is where checks are recorded; *store.Store satisfies it.
type auditCheckStore interface {
	RecordAuditCheck(ctx context.Context, c store.AuditCheck) (*store.AuditCheck, error)
	ListAuditChecks(ctx context.Context, pledgeID int64) ([]store.AuditCheck, error)
}

// exchangeReader reads a pledge's latest voucher exchange with its
// messages; *store.Store satisfies it.
type exchangeReader interface {
	LatestExchange(ctx context.Context, pledgeID int64) (*store.Exchange, error)
}

// auditLogSource is Config.AuditLogSource, else the voucher source if it
// can fetch logs too (the MASAClient can).
func (rg *Registrar) auditLogSource() AuditLogSource {
	if rg.cfg.AuditLogSource != nil {
		return rg.cfg.AuditLogSource
	}
	s, _ := rg.masa.(AuditLogSource)
	return s
}

// checkAuditLog runs the check for a pledge that reported accepting the
// voucher of its latest exchange: the registrar voucher-request of that
// exchange, byte for byte, goes to the MASA's requestauditlog (5.8: the
// same request the voucher was issued for), the answer is judged, and the
// check is recorded, counted by verdict and logged. It never fails the
// pledge's status report: what it decides takes effect at EST
// (auditLogGate). Nothing is fetched in mode off, nor for an exchange
// that did not issue a voucher.
func (rg *Registrar) checkAuditLog(ctx context.Context, id *Pledge, p *store.Pledge) {
	policy := rg.cfg.AuditLog
	if policy.Mode == AuditLogOff || policy.Mode == "" {
		return
	}
	// A pledge hanging up does not cut the check short: the MASA client's
	// timeout bounds it.
	ctx = context.WithoutCancel(ctx)
	checks, ok1 := rg.state.(auditCheckStore)
	exchanges, ok2 := rg.state.(exchangeReader)
	if !ok1 || !ok2 {
		rg.log.ErrorContext(ctx, "audit log check: the registrar's store cannot record checks", "pledge", p.ID)
		return
	}
	ex, err := exchanges.LatestExchange(ctx, p.ID)
	if err != nil || ex.Outcome != store.OutcomeIssued || len(ex.RegistrarRequest) == 0 {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			rg.log.WarnContext(ctx, "audit log check: no exchange to check", "pledge", p.ID, "err", err)
		}
		return
	}
	c := store.AuditCheck{PledgeID: p.ID, ExchangeID: ex.ID, Mode: string(policy.Mode), Replica: rg.cfg.ReplicaID}
	log, vouchers, err := rg.fetchAuditLog(ctx, id, ex)
	if err != nil {
		c.Verdict, c.Reason = store.AuditVerdictError, err.Error()
	} else {
		c.Findings = judgeAuditLog(log, rg.ownDomainIDs(ex), policy)
		c.Vouchers = vouchers
		c.Verdict = store.AuditVerdictPass
		if len(c.Findings) > 0 {
			c.Verdict = store.AuditVerdictFlagged
			kinds := make([]string, len(c.Findings))
			for i, f := range c.Findings {
				kinds[i] = f.Kind + " (" + f.Detail + ")"
			}
			c.Reason = strings.Join(kinds, "; ")
		}
	}
	rec, err := checks.RecordAuditCheck(ctx, c)
	if err != nil {
		rg.log.ErrorContext(ctx, "audit log check not recorded", "pledge", p.ID, "err", err)
		return
	}
	rg.metrics.auditChecks.WithLabelValues(string(policy.Mode), rec.Verdict).Inc()
	attrs := []any{"pledge", p.ID, "serial", p.Serial, "mode", rec.Mode, "verdict", rec.Verdict, "vouchers", rec.Vouchers, "reason", rec.Reason}
	if rec.Verdict == store.AuditVerdictPass {
		rg.log.InfoContext(ctx, "audit log check", attrs...)
	} else {
		rg.log.WarnContext(ctx, "audit log check: an operator should review this pledge", attrs...)
	}
}

// fetchAuditLog obtains and parses the log for the exchange's request.
func (rg *Registrar) fetchAuditLog(ctx context.Context, id *Pledge, ex *store.Exchange) (*auditLog, int64, error) {
	src := rg.auditLogSource()
	if src == nil {
		return nil, 0, errors.New("no audit log source is configured")
	}
	masaURL := id.Manufacturer.MASAURL
	if masaURL == "" {
		var err error
		if masaURL, err = voucher.MASAURL(id.IDevID); err != nil {
			return nil, 0, errors.New("the IDevID names no MASA and none is configured for its manufacturer")
		}
	}
	f, ok := voucher.DetectFormat(ex.RegistrarRequest)
	if !ok {
		return nil, 0, errors.New("the recorded registrar voucher-request is in no known format")
	}
	body, err := src.RequestAuditLog(ctx, masaURL, id.Manufacturer.MASA, ex.RegistrarRequest, f)
	if err != nil {
		return nil, 0, fmt.Errorf("MASA audit log: %w", err)
	}
	return parseAuditLog(body)
}

// auditLogGate is the enrollment gate's audit-log rule (enrollPolicy):
// under enforce, the pledge's latest check must have passed, or an
// operator must have approved the pledge after a check that found the
// same (store.AuditLogOverridden). A pledge never checked (the mode was
// off when it reported) passes; so does every pledge in modes off and
// warn.
func (rg *Registrar) auditLogGate(ctx context.Context, p *store.Pledge) error {
	if rg.cfg.AuditLog.Mode != AuditLogEnforce {
		return nil
	}
	checks, ok := rg.state.(auditCheckStore)
	if !ok {
		return nil
	}
	history, err := checks.ListAuditChecks(ctx, p.ID)
	if err != nil {
		return unavailable(err)
	}
	if len(history) == 0 {
		return nil
	}
	c := history[len(history)-1]
	if c.Verdict == store.AuditVerdictPass || store.AuditLogOverridden(p, history) {
		return nil
	}
	what := "flagged the device's history: " + c.Reason
	if c.Verdict == store.AuditVerdictError {
		what = "could not be made: " + c.Reason + "; report the voucher status again to retry"
	}
	return enroll.ErrForbidden(fmt.Sprintf("enrollment refused: the MASA audit log check (RFC 8995 5.8) %s; an operator must approve the pledge", what))
}
