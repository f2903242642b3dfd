package sqlstore_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/pgerr"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/migrations"
)

// TestUnreachableDatabase: every method of a store whose database cannot
// be reached (PostgreSQL: nothing listens; SQLite: the database was closed
// under the store) fails with masa.Unavailable (503, Retry-After), as the
// registrar's store does, so that every MASA endpoint answers 503 with
// Retry-After during an outage instead of 500.
func TestUnreachableDatabase(t *testing.T) {
	t.Run("postgresql", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		s, err := sqlstore.Open(context.Background(), "postgres://nobody@"+addr+"/masa?sslmode=disable&connect_timeout=5", 2)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		allUnavailable(t, s)
	})
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqldb.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "masa.db"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := migrations.ForSQLite(db, migrations.MASASchema)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Up(); err != nil {
			t.Fatal(err)
		}
		s := sqlstore.New(db)
		db.Close() // under the store
		allUnavailable(t, s)
	})
}

func allUnavailable(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	ev := masa.AuditEvent{At: now, Actor: "t", Action: "x"}
	sel := masa.Selection{SerialNumbers: []string{"A"}}
	calls := map[string]func() error{
		"Ping":             func() error { return s.Ping(ctx) },
		"DeviceRecord":     func() error { _, err := s.DeviceRecord(ctx, "A"); return err },
		"RegisterDevice":   func() error { return s.RegisterDevice(ctx, devices("A")[0], ev) },
		"ImportDevices":    func() error { return s.ImportDevices(ctx, devices("A", "B"), ev) },
		"ExistingSerials":  func() error { _, err := s.ExistingSerials(ctx, []string{"A"}); return err },
		"ListDevices":      func() error { _, err := s.ListDevices(ctx, masa.DeviceFilter{Limit: 1}); return err },
		"SetDeviceStatus":  func() error { _, err := s.SetDeviceStatus(ctx, sel, masa.DeviceDisabled, ev); return err },
		"CreateOwner":      func() error { _, err := s.CreateOwner(ctx, masa.Owner{Name: "o", CASHA256: []byte{1}}, ev); return err },
		"Owner":            func() error { _, err := s.Owner(ctx, 1); return err },
		"ListOwners":       func() error { _, err := s.ListOwners(ctx); return err },
		"OwnersByAnchor":   func() error { _, err := s.OwnersByAnchor(ctx, [][]byte{{1}}, []string{"d"}); return err },
		"AssignOwner":      func() error { _, err := s.AssignOwner(ctx, sel, 1, ev); return err },
		"SetPolicy":        func() error { return s.SetPolicy(ctx, "device", "A", masa.Policy{}, ev) },
		"DeletePolicy":     func() error { return s.DeletePolicy(ctx, "device", "A", ev) },
		"VoucherByRequest": func() error { _, err := s.VoucherByRequest(ctx, []byte{1}); return err },
		"RecordVoucher": func() error {
			_, err := s.RecordVoucher(ctx, masa.VoucherRecord{SerialNumber: "A", IssuedAt: now}, nil)
			return err
		},
		"RecordVoucher claim": func() error {
			_, err := s.RecordVoucher(ctx, masa.VoucherRecord{SerialNumber: "A", IssuedAt: now}, &masa.Owner{CASHA256: []byte{1}})
			return err
		},
		"ListVouchers":   func() error { _, err := s.ListVouchers(ctx, masa.VoucherFilter{Limit: 1}); return err },
		"DeviceVouchers": func() error { _, _, err := s.DeviceVouchers(ctx, "A", 1); return err },
		"ListEvents":     func() error { _, err := s.ListEvents(ctx, masa.EventFilter{Limit: 1}); return err },
		"CreateToken":    func() error { _, err := s.CreateToken(ctx, masa.Token{Name: "n", Role: masa.RoleAdmin}); return err },
		"TokenBySecret":  func() error { _, err := s.TokenBySecret(ctx, []byte("h")); return err },
		"ListTokens":     func() error { _, err := s.ListTokens(ctx); return err },
		"RevokeToken":    func() error { return s.RevokeToken(ctx, 1, now) },
	}
	for name, call := range calls {
		err := call()
		var me *masa.Error
		if !errors.Is(err, masa.ErrUnavailable) || !errors.As(err, &me) ||
			me.Status != http.StatusServiceUnavailable || me.Retry != pgerr.RetryAfter {
			t.Errorf("%s with the database unreachable: %v", name, err)
		}
	}
}

// TestStatementErrorsAreNotUnavailable: a statement the database refuses
// is the request's fault or a bug, never "retry later".
func TestStatementErrorsAreNotUnavailable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *sqlstore.Store) {
		_, err := s.CreateToken(context.Background(), masa.Token{Name: "n", Role: "root", SHA256: []byte("g"), CreatedAt: now})
		var me *masa.Error
		if err == nil || errors.Is(err, masa.ErrUnavailable) || errors.As(err, &me) {
			t.Errorf("check violation classified as %v", err)
		}
	})
}
