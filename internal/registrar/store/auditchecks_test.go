package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

func TestAuditChecks(t *testing.T) { testkit.EachBackend(t, tAuditChecks) }

// tAuditChecks: checks are stored with their findings and read back
// newest first or in order; bad ones are refused and write nothing; an
// operator's approval after a check overrides it, the policy's or an
// earlier one does not.
func tAuditChecks(t *testing.T, backend testkit.Backend) {
	s, _, clk := newStore(t, backend)
	ctx := context.Background()
	acme := mustManufacturer(t, s, "Acme")
	p := mustPledge(t, s, acme.ID, "A-1")
	if _, err := s.LatestAuditCheck(ctx, p.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no check yet: %v", err)
	}
	ex, err := s.RecordIssued(ctx, store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("pvr"), RegistrarRequest: []byte("rvr"), Outcome: store.OutcomeIssued, Replica: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []store.AuditCheck{
		{PledgeID: p.ID, ExchangeID: ex, Mode: "off", Verdict: store.AuditVerdictPass, Replica: "r1"},
		{PledgeID: p.ID, ExchangeID: ex, Mode: store.AuditModeWarn, Verdict: "maybe", Replica: "r1"},
		{PledgeID: p.ID, ExchangeID: ex, Mode: store.AuditModeWarn, Verdict: store.AuditVerdictPass},
		{PledgeID: p.ID, ExchangeID: ex, Mode: store.AuditModeWarn, Verdict: store.AuditVerdictPass, Replica: "r1", Vouchers: -1},
	} {
		if _, err := s.RecordAuditCheck(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", bad, err)
		}
	}
	if _, err := s.RecordAuditCheck(ctx, store.AuditCheck{PledgeID: p.ID + 99, ExchangeID: ex, Mode: store.AuditModeWarn, Verdict: store.AuditVerdictPass, Replica: "r1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown pledge: %v", err)
	}
	if cs, err := s.ListAuditChecks(ctx, p.ID); err != nil || len(cs) != 0 {
		t.Fatalf("refused checks were written: %v %v", cs, err)
	}

	first, err := s.RecordAuditCheck(ctx, store.AuditCheck{PledgeID: p.ID, ExchangeID: ex, Mode: store.AuditModeWarn, Verdict: store.AuditVerdictPass, Vouchers: 1, Replica: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	flagged := store.AuditCheck{PledgeID: p.ID, ExchangeID: ex, Mode: store.AuditModeEnforce, Verdict: store.AuditVerdictFlagged, Vouchers: 3, Replica: "r2",
		Reason:   "prior-owner",
		Findings: []store.AuditFinding{{Kind: "prior-owner", Detail: "2 vouchers for domainID AAAA"}, {Kind: "nonceless", Detail: "1"}}}
	second, err := s.RecordAuditCheck(ctx, flagged)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := s.LatestAuditCheck(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if latest.ID != second.ID || latest.Verdict != store.AuditVerdictFlagged || len(latest.Findings) != 2 || latest.Findings[0].Detail != "2 vouchers for domainID AAAA" ||
		latest.Vouchers != 3 || latest.Replica != "r2" || latest.ExchangeID != ex || !latest.CheckedAt.Equal(clk.Now()) {
		t.Errorf("latest %+v", latest)
	}
	cs, err := s.ListAuditChecks(ctx, p.ID)
	if err != nil || len(cs) != 2 || cs[0].ID != first.ID || cs[0].Findings == nil || len(cs[0].Findings) != 0 {
		t.Fatalf("list %+v %v", cs, err)
	}

	// Overrides: the approval policy's decision and one before the check
	// do not count; an operator's after it does.
	decide := func(actor string) *store.Pledge {
		ps, err := s.Decide(ctx, []int64{p.ID}, store.DecisionApproved, actor)
		if err != nil {
			t.Fatal(err)
		}
		return &ps[0]
	}
	if latest.Overridden(decide("policy:auto")) {
		t.Error("the approval policy overrode the check")
	}
	clk.Advance(-2 * time.Minute)
	if latest.Overridden(decide("alice")) {
		t.Error("an approval before the check overrode it")
	}
	clk.Advance(3 * time.Minute)
	if !latest.Overridden(decide("alice")) {
		t.Error("the operator's approval after the check did not override it")
	}
	// The approval carries over to a later check that finds the same, not
	// to one with a new prior owner or a new kind of finding.
	approved, _ := s.GetPledge(ctx, p.ID)
	clk.Advance(time.Minute)
	again := flagged
	againRec, err := s.RecordAuditCheck(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	history := append(cs, *againRec)
	if !store.AuditLogOverridden(approved, history) {
		t.Error("the approval did not carry over to the same findings")
	}
	newOwner := *againRec
	newOwner.Findings = []store.AuditFinding{{Kind: "prior-owner", Detail: "1 voucher(s) for domainID BBBB"}}
	if store.AuditLogOverridden(approved, append(cs, newOwner)) {
		t.Error("the approval covered a new prior owner")
	}
	newKind := *againRec
	newKind.Findings = append(newKind.Findings, store.AuditFinding{Kind: "too-many", Detail: "9"})
	if store.AuditLogOverridden(approved, append(cs, newKind)) {
		t.Error("the approval covered a new kind of finding")
	}
	if store.AuditLogOverridden(approved, nil) {
		t.Error("no checks, overridden")
	}
	denied, err := s.Decide(ctx, []int64{p.ID}, store.DecisionDenied, "bob")
	if err != nil || latest.Overridden(&denied[0]) || store.AuditLogOverridden(&denied[0], history) {
		t.Errorf("a denial overrode the check: %v", err)
	}
}
