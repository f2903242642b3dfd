package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func devices(serials ...string) []masa.Device {
	var ds []masa.Device
	for _, s := range serials {
		ds = append(ds, masa.Device{SerialNumber: s, Product: "p", Status: masa.DeviceActive, CreatedAt: now, UpdatedAt: now})
	}
	return ds
}

func count(t *testing.T, s *sqlstore.Store, table string) int {
	t.Helper()
	return testkit.Count(t, s.DB(), table)
}

func TestImportIsAllOrNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		ev := masa.AuditEvent{At: now, Actor: "t", Action: "device.import"}
		if err := s.ImportDevices(ctx, devices("A1", "A2"), ev); err != nil {
			t.Fatal(err)
		}
		if err := s.ImportDevices(ctx, devices("A3", "A2"), ev); !errors.Is(err, masa.ErrDuplicate) {
			t.Fatalf("duplicate import: %v", err)
		}
		if n := count(t, s, "devices"); n != 2 {
			t.Errorf("%d devices after a failed import", n)
		}
		if n := count(t, s, "audit_events"); n != 1 {
			t.Errorf("%d events after a failed import", n)
		}
		got, err := s.ExistingSerials(ctx, []string{"A1", "A3"})
		if err != nil || !got["A1"] || got["A3"] {
			t.Errorf("ExistingSerials = %v, %v", got, err)
		}
	})
}

func TestAssignOwnerSelections(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if err := s.ImportDevices(ctx, devices("S-001", "S-002", "S-003", "S-010"), masa.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		o, err := s.CreateOwner(ctx, masa.Owner{Name: "o", CACert: []byte{1}, CASHA256: []byte{1}, DomainID: "d", CreatedAt: now}, masa.AuditEvent{At: now, Action: "owner.create"})
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.CreateOwner(ctx, masa.Owner{Name: "other name", CACert: []byte{1}, CASHA256: []byte{1}, DomainID: "d", CreatedAt: now}, masa.AuditEvent{At: now, Action: "owner.create"})
		if err != nil || again.ID != o.ID || again.Name != "o" {
			t.Errorf("re-creating an owner: %+v %v", again, err)
		}
		ev := masa.AuditEvent{At: now, Actor: "t", Action: "ownership.assign"}
		cases := []struct {
			name    string
			sel     masa.Selection
			owner   int64
			changed int
			err     error
		}{
			{"range", masa.Selection{From: "S-001", To: "S-003"}, o.ID, 3, nil},
			{"range again changes nothing", masa.Selection{From: "S-001", To: "S-003"}, o.ID, 0, nil},
			{"list with an unknown serial", masa.Selection{SerialNumbers: []string{"S-010", "S-999"}}, o.ID, 0, masa.ErrNotFound},
			{"list", masa.Selection{SerialNumbers: []string{"S-010", "S-010"}}, o.ID, 1, nil},
			{"revoke range", masa.Selection{From: "S-002", To: "S-010"}, 0, 3, nil},
		}
		for _, tc := range cases {
			changed, err := s.AssignOwner(ctx, tc.sel, tc.owner, ev)
			if !errors.Is(err, tc.err) || len(changed) != tc.changed {
				t.Errorf("%s: changed %v, err %v", tc.name, changed, err)
			}
		}
		rec, err := s.DeviceRecord(ctx, "S-001")
		if err != nil || rec.Owner == nil || rec.Owner.ID != o.ID {
			t.Errorf("S-001 = %+v, %v", rec, err)
		}
		rec, _ = s.DeviceRecord(ctx, "S-002")
		if rec.Owner != nil {
			t.Errorf("S-002 still owned: %+v", rec.Owner)
		}
	})
}

func TestPolicyPrecedence(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if err := s.ImportDevices(ctx, devices("P-1", "P-2"), masa.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		ev := masa.AuditEvent{At: now, Action: "policy.set"}
		s.SetPolicy(ctx, "product", "p", masa.Policy{TrustOnFirstUse: true}, ev)
		s.SetPolicy(ctx, "device", "P-1", masa.Policy{NoncelessAllowed: true, MaxLifetime: time.Hour}, ev)
		r1, _ := s.DeviceRecord(ctx, "P-1")
		r2, _ := s.DeviceRecord(ctx, "P-2")
		if !r1.Policy.NoncelessAllowed || r1.Policy.MaxLifetime != time.Hour || r1.Policy.TrustOnFirstUse {
			t.Errorf("device policy = %+v", r1.Policy)
		}
		if !r2.Policy.TrustOnFirstUse || r2.Policy.NoncelessAllowed {
			t.Errorf("product policy = %+v", r2.Policy)
		}
		if err := s.DeletePolicy(ctx, "device", "P-1", ev); err != nil {
			t.Fatal(err)
		}
		r1, _ = s.DeviceRecord(ctx, "P-1")
		if !r1.Policy.TrustOnFirstUse {
			t.Errorf("after delete = %+v", r1.Policy)
		}
		if err := s.DeletePolicy(ctx, "device", "P-1", ev); !errors.Is(err, masa.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		if _, err := s.DeviceRecord(ctx, "nope"); !errors.Is(err, masa.ErrNotFound) {
			t.Errorf("unknown device: %v", err)
		}
	})
}

// TestTrustOnFirstUseRace: of many domains claiming one device at once,
// exactly one wins; the others record nothing.
func TestTrustOnFirstUseRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		if err := s.ImportDevices(ctx, devices("T-1"), masa.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				claim := &masa.Owner{Name: fmt.Sprint(i), CACert: []byte{byte(i)}, CASHA256: []byte{byte(i)}, DomainID: fmt.Sprint(i)}
				_, errs[i] = s.RecordVoucher(ctx, masa.VoucherRecord{SerialNumber: "T-1", DomainID: fmt.Sprint(i), RequestSHA256: []byte{byte(i)},
					Assertion: "logged", RegistrarSubject: "r", Voucher: []byte{1}, IssuedAt: now}, claim)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, masa.ErrDuplicate):
				t.Errorf("claim: %v", err)
			}
		}
		if won != 1 || count(t, s, "vouchers") != 1 {
			t.Errorf("%d claims won, %d vouchers", won, count(t, s, "vouchers"))
		}
	})
}

func TestTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		tok, err := s.CreateToken(ctx, masa.Token{Name: "n", Role: masa.RoleSales, SHA256: []byte("h"), CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.TokenBySecret(ctx, []byte("h")); err != nil || got.ID != tok.ID || got.Role != masa.RoleSales {
			t.Fatalf("TokenBySecret = %+v, %v", got, err)
		}
		if err := s.RevokeToken(ctx, tok.ID, now); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenBySecret(ctx, []byte("h")); !errors.Is(err, masa.ErrNotFound) {
			t.Errorf("revoked token still found: %v", err)
		}
		if err := s.RevokeToken(ctx, tok.ID, now); !errors.Is(err, masa.ErrNotFound) {
			t.Errorf("second revoke: %v", err)
		}
		if _, err := s.CreateToken(ctx, masa.Token{Name: "n", Role: "root", SHA256: []byte("g"), CreatedAt: now}); err == nil {
			t.Error("a token with an unknown role was stored")
		}
	})
}
