package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

func TestTouchFindGetSetState(t *testing.T) { testkit.EachBackend(t, tTouchFindGetSetState) }

func tTouchFindGetSetState(t *testing.T, backend testkit.Backend) {
	s, _, clk := newStore(t, backend)
	ctx := context.Background()
	acme := mustManufacturer(t, s, "Acme")

	p, err := s.Touch(ctx, acme.ID, "A-1", []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Decision != store.DecisionPending || p.State != store.StateNew || p.DecidedAt != nil || !p.CreatedAt.Equal(testStart) {
		t.Errorf("first contact: %+v", p)
	}
	clk.Advance(time.Minute)
	again, err := s.Touch(ctx, acme.ID, "A-1", []byte("second"))
	if err != nil || again.ID != p.ID || string(again.IDevID) != "second" || !again.CreatedAt.Equal(testStart) || !again.UpdatedAt.Equal(testStart.Add(time.Minute)) {
		t.Errorf("second contact: %+v %v", again, err)
	}
	for _, tc := range []struct {
		name   string
		mid    int64
		serial string
		idevid []byte
		want   error
	}{
		{"unknown manufacturer", 999, "A-1", []byte("x"), store.ErrNotFound},
		{"empty serial", acme.ID, "", []byte("x"), store.ErrInvalid},
		{"no IDevID", acme.ID, "A-2", nil, store.ErrInvalid},
	} {
		if _, err := s.Touch(ctx, tc.mid, tc.serial, tc.idevid); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}

	if f, err := s.FindPledge(ctx, acme.ID, "A-1"); err != nil || f.ID != p.ID {
		t.Errorf("find: %+v %v", f, err)
	}
	if _, err := s.FindPledge(ctx, acme.ID, "A-9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("find unknown: %v", err)
	}
	if err := s.SetState(ctx, p.ID, store.StateVoucherIssued); err != nil {
		t.Fatal(err)
	}
	if g, err := s.GetPledge(ctx, p.ID); err != nil || g.State != store.StateVoucherIssued {
		t.Errorf("get after SetState: %+v %v", g, err)
	}
	if err := s.SetState(ctx, p.ID, "flying"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown state: %v", err)
	}
	if err := s.SetState(ctx, 999, store.StateEnrolled); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown pledge: %v", err)
	}
	if _, err := s.GetPledge(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown: %v", err)
	}
}

// Many replicas see the same pledge's first contact at once: one row.
func TestTouchConcurrent(t *testing.T) { testkit.EachBackend(t, tTouchConcurrent) }

func tTouchConcurrent(t *testing.T, backend testkit.Backend) {
	s, pool, _ := newStore(t, backend)
	acme := mustManufacturer(t, s, "Acme")
	const n = 24
	ids := make([]int64, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			p, err := s.Touch(context.Background(), acme.ID, "SAME-1", []byte(fmt.Sprint("idevid ", i)))
			errs[i] = err
			if p != nil {
				ids[i] = p.ID
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("goroutine %d: id %d (first %d), %v", i, ids[i], ids[0], errs[i])
		}
	}
	if c := testkit.Count(t, pool, "pledges"); c != 1 {
		t.Errorf("%d pledge rows, want 1", c)
	}
}

func TestListPledges(t *testing.T) { testkit.EachBackend(t, tListPledges) }

func tListPledges(t *testing.T, backend testkit.Backend) {
	s, _, _ := newStore(t, backend)
	ctx := context.Background()
	acme, bolt := mustManufacturer(t, s, "Acme"), mustManufacturer(t, s, "Bolt")
	var acmeIDs []int64
	for i := range 12 {
		acmeIDs = append(acmeIDs, mustPledge(t, s, acme.ID, fmt.Sprintf("A-%02d", i)).ID)
		mustPledge(t, s, bolt.ID, fmt.Sprintf("B-%02d", i))
	}
	if _, err := s.Decide(ctx, acmeIDs[:3], store.DecisionApproved, "op"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decide(ctx, acmeIDs[3:4], store.DecisionDenied, "op"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, acmeIDs[0], store.StateEnrolled); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		f    store.PledgeFilter
		want int
	}{
		{"all", store.PledgeFilter{}, 24},
		{"approved", store.PledgeFilter{Decision: store.DecisionApproved}, 3},
		{"denied", store.PledgeFilter{Decision: store.DecisionDenied}, 1},
		{"pending of Bolt", store.PledgeFilter{Decision: store.DecisionPending, ManufacturerID: bolt.ID}, 12},
		{"enrolled", store.PledgeFilter{State: store.StateEnrolled}, 1},
		{"new", store.PledgeFilter{State: store.StateNew}, 23},
		{"serial prefix", store.PledgeFilter{SerialPrefix: "A-1"}, 2},
		{"prefix with LIKE wildcard", store.PledgeFilter{SerialPrefix: "A-%"}, 0},
		{"Acme", store.PledgeFilter{ManufacturerID: acme.ID}, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Pages of 5 must give the same pledges, in id order, as one page.
			var got []store.Pledge
			f := tc.f
			f.Limit = 5
			for pages := 0; ; pages++ {
				p, err := s.ListPledges(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Items) > 5 || pages > 6 {
					t.Fatalf("page %d has %d items", pages, len(p.Items))
				}
				got = append(got, p.Items...)
				if p.Next == "" {
					break
				}
				f.Cursor = p.Next
			}
			if len(got) != tc.want {
				t.Errorf("%d pledges, want %d", len(got), tc.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].ID <= got[i-1].ID {
					t.Errorf("not in id order: %d after %d", got[i].ID, got[i-1].ID)
				}
			}
		})
	}
	for _, f := range []store.PledgeFilter{{Decision: "maybe"}, {State: "lost"}, {Limit: -1}, {Limit: store.MaxLimit + 1}, {Cursor: "x"}} {
		if _, err := s.ListPledges(ctx, f); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", f, err)
		}
	}
}

func TestDecide(t *testing.T) { testkit.EachBackend(t, tDecide) }

func tDecide(t *testing.T, backend testkit.Backend) {
	s, pool, clk := newStore(t, backend)
	ctx := context.Background()
	acme := mustManufacturer(t, s, "Acme")
	a, b, c := mustPledge(t, s, acme.ID, "A-1"), mustPledge(t, s, acme.ID, "A-2"), mustPledge(t, s, acme.ID, "A-3")
	clk.Advance(time.Hour)

	got, err := s.Decide(ctx, []int64{a.ID}, store.DecisionApproved, "token:1:olga")
	if err != nil || len(got) != 1 || got[0].Decision != store.DecisionApproved || got[0].DecidedBy != "token:1:olga" || !got[0].DecidedAt.Equal(testStart.Add(time.Hour)) {
		t.Fatalf("single: %+v %v", got, err)
	}
	// The single decision (one statement on PostgreSQL) records the same
	// event as a bulk one would.
	evs, _ := s.ListEvents(ctx, store.EventFilter{Action: "pledge.approve"})
	if len(evs.Items) != 1 || evs.Items[0].Subject != fmt.Sprintf("pledge:%d", a.ID) || evs.Items[0].Actor != "token:1:olga" ||
		evs.Items[0].Detail["bulk"] != false || evs.Items[0].Detail["serial"] != "A-1" || evs.Items[0].Detail["manufacturer_id"] != float64(acme.ID) {
		t.Errorf("single approve event: %+v", evs.Items)
	}
	got, err = s.Decide(ctx, []int64{c.ID, b.ID, c.ID}, store.DecisionDenied, "token:1:olga")
	if err != nil || len(got) != 3 || got[0].ID != c.ID || got[1].ID != b.ID || got[1].Decision != store.DecisionDenied {
		t.Fatalf("bulk: %+v %v", got, err)
	}
	evs, _ = s.ListEvents(ctx, store.EventFilter{Action: "pledge.deny"})
	if len(evs.Items) != 2 || evs.Items[0].Detail["bulk"] != true {
		t.Errorf("bulk deny events: %+v", evs.Items)
	}

	// Bulk with an unknown id: nothing changes, the error names it.
	var before string
	snapshot := func() string {
		var s string
		if err := pool.QueryRow(ctx, `SELECT string_agg(id || decision || coalesce(decided_by, ''), ',' ORDER BY id) || (SELECT count(*) FROM audit_events) FROM pledges`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before = snapshot()
	_, err = s.Decide(ctx, []int64{a.ID, b.ID, 4242}, store.DecisionApproved, "token:2:eve")
	var nf *store.NotFoundError
	if !errors.As(err, &nf) || nf.Kind != "pledge" || nf.Key != "4242" {
		t.Errorf("unknown id: %v", err)
	}
	if _, err = s.Decide(ctx, []int64{4243, 4243}, store.DecisionApproved, "token:2:eve"); !errors.As(err, &nf) || nf.Key != "4243" {
		t.Errorf("unknown single id: %v", err)
	}
	for _, tc := range []struct {
		ids      []int64
		decision store.Decision
	}{{nil, store.DecisionApproved}, {[]int64{a.ID}, store.DecisionPending}, {[]int64{a.ID}, "yes"}, {make([]int64, store.MaxBulkDecide+1), store.DecisionDenied}} {
		if _, err := s.Decide(ctx, tc.ids, tc.decision, "x"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Decide(%d ids, %q): %v", len(tc.ids), tc.decision, err)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("a failed Decide changed the database:\n%s\n%s", before, after)
	}
}
