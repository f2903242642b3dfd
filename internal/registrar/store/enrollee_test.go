package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

// FindEnrollee gives the pledge as FindPledge does and the outcome of its
// latest exchange as LatestExchange does, on both backends.
func TestFindEnrollee(t *testing.T) { testkit.EachBackend(t, tFindEnrollee) }

func tFindEnrollee(t *testing.T, backend testkit.Backend) {
	s, _, _ := newStore(t, backend)
	ctx := context.Background()
	acme := mustManufacturer(t, s, "Acme")
	p := mustPledge(t, s, acme.ID, "F-1")
	mustPledge(t, s, acme.ID, "F-2") // another pledge's exchanges must not count

	if _, err := s.FindEnrollee(ctx, acme.ID, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown serial: %v", err)
	}
	en, err := s.FindEnrollee(ctx, acme.ID, "F-1")
	if err != nil {
		t.Fatal(err)
	}
	got, latest := &en.Pledge, en.Latest
	want, _ := s.FindPledge(ctx, acme.ID, "F-1")
	if latest != nil || en.Certificates != 0 || got.ID != want.ID || got.State != want.State || got.Decision != want.Decision || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("no exchange yet: %+v %+v %v", got, latest, err)
	}
	record := func(o store.Outcome, sum byte) {
		t.Helper()
		ex := store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("pvr"), Outcome: o, Replica: "r1", IDevIDSHA256: []byte{sum}}
		if o == store.OutcomeIssued {
			ex.Voucher, ex.MASAStatus = []byte("v"), 200
			if _, err := s.RecordIssued(ctx, ex); err != nil {
				t.Fatal(err)
			}
			return
		}
		if _, err := s.RecordExchange(ctx, ex); err != nil {
			t.Fatal(err)
		}
	}
	record(store.OutcomeIssued, 1)
	record(store.OutcomeMASARefused, 2) // the device was sold on: the latest counts
	en, err = s.FindEnrollee(ctx, acme.ID, "F-1")
	got, latest = &en.Pledge, en.Latest
	full, _ := s.LatestExchange(ctx, p.ID)
	if err != nil || latest == nil || latest.Outcome != store.OutcomeMASARefused || latest.Outcome != full.Outcome ||
		!bytes.Equal(latest.IDevIDSHA256, full.IDevIDSHA256) || got.ID != p.ID || got.Serial != "F-1" {
		t.Fatalf("latest: %+v %+v %v", got, latest, err)
	}
	record(store.OutcomeIssued, 3)
	c := store.Certificate{Serial: "f1", PledgeID: p.ID, Operation: "simpleenroll", Subject: "CN=F-1",
		NotBefore: testStart, NotAfter: testStart.Add(time.Hour), DER: []byte{1}}
	if err := s.RecordEnrollment(ctx, c); err != nil {
		t.Fatal(err)
	}
	en, err = s.FindEnrollee(ctx, acme.ID, "F-1")
	got, latest = &en.Pledge, en.Latest
	if err != nil || en.Certificates != 1 || latest.Outcome != store.OutcomeIssued || !bytes.Equal(latest.IDevIDSHA256, []byte{3}) || got.State != store.StateEnrolled {
		t.Fatalf("after a new voucher: %+v %+v %v", got, latest, err)
	}
}
