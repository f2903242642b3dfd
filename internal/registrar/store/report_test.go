package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

// RecordReport records every report, moves the pledge only from the
// states the report answers, returns the pledge as it was, and records
// nothing for an unknown pledge or a bad report, on both backends.
func TestRecordReport(t *testing.T) { testkit.EachBackend(t, tRecordReport) }

func tRecordReport(t *testing.T, backend testkit.Backend) {
	s, db, _ := newStore(t, backend)
	ctx := context.Background()
	acme := mustManufacturer(t, s, "Acme")
	p := mustPledge(t, s, acme.ID, "R-1")
	accepted := store.Report{Kind: store.TelemetryVoucherStatus, Status: true, Body: []byte(`{"version":1,"status":true}`),
		From: []store.State{store.StateVoucherIssued, store.StateVoucherAccepted}, Next: store.StateVoucherAccepted}

	// A report from a state it does not answer is recorded and moves nothing.
	before, err := s.RecordReport(ctx, acme.ID, "R-1", accepted)
	if err != nil || before.ID != p.ID || before.State != store.StateNew {
		t.Fatalf("from new: %+v %v", before, err)
	}
	if got, _ := s.GetPledge(ctx, p.ID); got.State != store.StateNew {
		t.Fatalf("moved from new to %q", got.State)
	}
	if err := s.SetState(ctx, p.ID, store.StateVoucherIssued); err != nil {
		t.Fatal(err)
	}
	before, err = s.RecordReport(ctx, acme.ID, "R-1", accepted)
	if err != nil || before.State != store.StateVoucherIssued {
		t.Fatalf("from voucher-issued: %+v %v", before, err)
	}
	got, _ := s.GetPledge(ctx, p.ID)
	if got.State != store.StateVoucherAccepted {
		t.Fatalf("state %q after the acceptance", got.State)
	}
	updated := got.UpdatedAt
	// The same report again leaves the row as it is.
	if _, err := s.RecordReport(ctx, acme.ID, "R-1", accepted); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetPledge(ctx, p.ID); got.State != store.StateVoucherAccepted || !got.UpdatedAt.Equal(updated) {
		t.Fatalf("a report of the state it is in rewrote the row: %+v", got)
	}
	reports, err := s.ListTelemetry(ctx, p.ID)
	if err != nil || len(reports) != 3 || reports[2].Kind != store.TelemetryVoucherStatus || !reports[2].Status {
		t.Fatalf("reports %+v %v", reports, err)
	}

	n := testkit.Count(t, db, "telemetry")
	if _, err := s.RecordReport(ctx, acme.ID, "nobody", accepted); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown pledge: %v", err)
	}
	bad := accepted
	bad.Body = []byte(`{"status":`)
	if _, err := s.RecordReport(ctx, acme.ID, "R-1", bad); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad body: %v", err)
	}
	bad = accepted
	bad.Kind = "gossip"
	if _, err := s.RecordReport(ctx, acme.ID, "R-1", bad); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad kind: %v", err)
	}
	if got := testkit.Count(t, db, "telemetry"); got != n {
		t.Fatalf("refused reports left %d rows (had %d)", got, n)
	}
}
