package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
)

// A backend opens a fresh, migrated store for one test.
type backend struct {
	name string
	open func(t *testing.T) *sqlstore.Store
}

// backends are the two databases a MASA runs on: PostgreSQL (a fresh
// database of the test cluster) and the embedded SQLite file.
var backends = []backend{
	{"postgresql", func(t *testing.T) *sqlstore.Store {
		t.Helper()
		s, err := sqlstore.Open(context.Background(), testkit.Database(t, migrations.MASASchema), 8)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}},
	{"sqlite", func(t *testing.T) *sqlstore.Store {
		t.Helper()
		s, v, err := sqlstore.OpenEmbedded(context.Background(), filepath.Join(t.TempDir(), "masa.db"))
		if err != nil || v != 1 {
			t.Fatalf("OpenEmbedded: version %d, %v", v, err)
		}
		t.Cleanup(s.Close)
		return s
	}},
}

// forEachBackend runs test once per backend, as a subtest named after it,
// on a fresh store.
func forEachBackend(t *testing.T, test func(t *testing.T, s *sqlstore.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t)) })
	}
}

// TestBackendDialects: each backend's store speaks its own dialect, so
// that the per-dialect statements are the ones exercised.
func TestBackendDialects(t *testing.T) {
	for _, b := range backends {
		if got := b.open(t).Dialect().String(); got != b.name {
			t.Errorf("%s backend speaks %s", b.name, got)
		}
	}
}

// TestMigrateUpDownUp: on both backends the schema applies, a second Up is
// a no-op, down by one reverts it completely (one migration), and it
// reapplies; PostgreSQL records the version in masa_schema_migrations,
// the table deployments made before migrations.MASASchema already have.
func TestMigrateUpDownUp(t *testing.T) {
	pg := func(t *testing.T) *migrations.Migrator {
		m, err := migrations.ForURL(testpg.Database(t), migrations.MASASchema)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	lite := func(t *testing.T) *migrations.Migrator {
		db, err := sqldb.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "masa.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		m, err := migrations.ForSQLite(db, migrations.MASASchema)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for name, migrator := range map[string]func(*testing.T) *migrations.Migrator{"postgresql": pg, "sqlite": lite} {
		t.Run(name, func(t *testing.T) {
			m := migrator(t)
			defer m.Close()
			for i, step := range []func() error{
				func() error { v, err := m.Up(); return wantVersion(v, err, 1) },
				func() error { v, err := m.Up(); return wantVersion(v, err, 1) },
				func() error { v, err := m.DownOne(); return wantVersion(v, err, 0) },
				func() error { v, err := m.Up(); return wantVersion(v, err, 1) },
			} {
				if err := step(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
		})
	}
	dsn := testpg.Database(t)
	if _, err := migrations.Up(dsn, migrations.MASASchema); err != nil {
		t.Fatal(err)
	}
	if err := migrations.Down(dsn, migrations.MASASchema); err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.Up("mysql://x", migrations.MASASchema); err == nil {
		t.Error("non-postgres URL accepted")
	}
}

func wantVersion(v uint, err error, want uint) error {
	if err == nil && v != want {
		return fmt.Errorf("version %d, want %d", v, want)
	}
	return err
}

// TestEmbeddedIsOneProcess: a second open of the same file fails with
// *sqldb.InUseError until the first store is closed; reopening finds the
// data and migrates nothing.
func TestEmbeddedIsOneProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "masa.db")
	s, _, err := sqlstore.OpenEmbedded(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterDevice(ctx, devices("E-1")[0], masa.AuditEvent{At: now, Actor: "t", Action: "device.register"}); err != nil {
		t.Fatal(err)
	}
	var inUse *sqldb.InUseError
	if _, _, err := sqlstore.OpenEmbedded(ctx, path); !errors.As(err, &inUse) {
		t.Fatalf("second open: %v", err)
	}
	s.Close()
	s, v, err := sqlstore.OpenEmbedded(ctx, path)
	if err != nil || v != 1 {
		t.Fatalf("reopen: version %d, %v", v, err)
	}
	defer s.Close()
	if _, err := s.DeviceRecord(ctx, "E-1"); err != nil {
		t.Errorf("device after reopening: %v", err)
	}
}

// TestEmbeddedShared: an operator command's shared open works beside the
// store that holds the file, and both see each other's writes; it does
// not create a missing file.
func TestEmbeddedShared(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "masa.db")
	if _, err := sqlstore.OpenEmbeddedShared(ctx, path); err == nil {
		t.Fatal("a shared open created a missing store")
	}
	served, _, err := sqlstore.OpenEmbedded(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	tool, err := sqlstore.OpenEmbeddedShared(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tool.CreateToken(ctx, masa.Token{Name: "ops", Role: masa.RoleAdmin, SHA256: []byte("h"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tool.Close()
	if _, err := served.TokenBySecret(ctx, []byte("h")); err != nil {
		t.Errorf("the serving store does not see the tool's token: %v", err)
	}
}
