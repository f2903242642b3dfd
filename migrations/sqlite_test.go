package migrations_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/migrations"
)

// Both schemas go up, down by one, up again and all the way down on the
// embedded store, as `registrar migrate` and `masa migrate` run them.
func TestSQLiteUpDownByOne(t *testing.T) {
	for _, s := range []migrations.Schema{migrations.RegistrarSchema, migrations.MASASchema} {
		t.Run(s.Dir, func(t *testing.T) {
			db, err := sqldb.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			m, err := migrations.ForSQLite(db, s)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			newest, err := m.Up()
			if err != nil || newest == 0 {
				t.Fatalf("up: %d, %v", newest, err)
			}
			if v, err := m.DownOne(); err != nil || v != newest-1 {
				t.Fatalf("down by one: %d, %v; want %d", v, err, newest-1)
			}
			if v, err := m.Up(); err != nil || v != newest {
				t.Fatalf("up again: %d, %v", v, err)
			}
			if err := m.Down(); err != nil {
				t.Fatal(err)
			}
			if v, dirty, err := m.Version(); err != nil || v != 0 || dirty {
				t.Fatalf("after down: %d dirty=%v %v", v, dirty, err)
			}
			if v, err := m.Up(); err != nil || v != newest {
				t.Fatalf("up from empty: %d, %v", v, err)
			}
		})
	}
}

// Every SQLite-only file replaces a PostgreSQL migration of the same name:
// the two schemas keep the same versions.
func TestSQLiteMirrorsPostgreSQL(t *testing.T) {
	for _, s := range []migrations.Schema{migrations.RegistrarSchema, migrations.MASASchema} {
		pg, _ := fs.ReadDir(s.FS, s.Dir)
		lite, _ := migrations.SQLite.ReadDir("sqlite/" + s.Dir)
		if len(pg) == 0 || len(lite) == 0 {
			t.Fatalf("%s: %d PostgreSQL files, %d SQLite files", s.Dir, len(pg), len(lite))
		}
		names := map[string]bool{}
		for _, e := range pg {
			names[e.Name()] = true
		}
		for _, e := range lite {
			if !names[e.Name()] {
				t.Errorf("%s: sqlite/%s has no PostgreSQL twin", s.Dir, e.Name())
			}
		}
	}
}
