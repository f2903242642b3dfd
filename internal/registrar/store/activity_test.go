package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

func TestActivity(t *testing.T) { testkit.EachBackend(t, tActivity) }

// tActivity: records in the window are counted per minute and kind;
// those before or at its end are not.
func tActivity(t *testing.T, backend testkit.Backend) {
	s, _, clk := newStore(t, backend)
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk.Set(start.Add(-time.Second)) // just before the window
	acme := mustManufacturer(t, s, "Acme")
	p := mustPledge(t, s, acme.ID, "A-1")
	exchange := func(o store.Outcome) {
		if _, err := s.RecordExchange(ctx, store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("pvr"), Outcome: o, Replica: "r1"}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	certificate := func() {
		n++
		if err := s.RecordCertificate(ctx, store.Certificate{Serial: fmt.Sprint(n), PledgeID: p.ID, Operation: "simpleenroll", DER: []byte("der")}); err != nil {
			t.Fatal(err)
		}
	}
	exchange(store.OutcomeDenied) // outside
	clk.Set(start.Add(10 * time.Second))
	exchange(store.OutcomeDenied)
	exchange(store.OutcomeDenied)
	exchange(store.OutcomeIssued)
	certificate()
	clk.Set(start.Add(2*time.Minute + 59*time.Second))
	exchange(store.OutcomeMASAUnreachable)
	certificate()
	certificate()
	clk.Set(start.Add(time.Hour)) // the end is exclusive
	exchange(store.OutcomeRejected)

	got, err := s.Activity(ctx, start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ActivityCount{
		{start, "denied", 2}, {start, "issued", 1}, {start, store.KindOnboarded, 1},
		{start.Add(2 * time.Minute), "masa-unreachable", 1}, {start.Add(2 * time.Minute), store.KindOnboarded, 2},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("activity\n got %v\nwant %v", got, want)
	}
	if got, err := s.Activity(ctx, start.Add(2*time.Hour), start.Add(3*time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("an empty window: %v %v", got, err)
	}
}
