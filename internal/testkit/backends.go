package testkit

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/migrations"
)

// Backend is one store backend a conformance suite runs against: Open
// returns a fresh database with a schema migrated up, closed when the test
// ends.
type Backend struct {
	Name string
	Open func(t testing.TB, schema migrations.Schema) sqldb.DB
}

// Backends are PostgreSQL (replicas) and the embedded SQLite store (one
// registrar or MASA).
var Backends = []Backend{
	{Name: "postgresql", Open: func(t testing.TB, s migrations.Schema) sqldb.DB { return Pool(t, s) }},
	{Name: "sqlite", Open: func(t testing.TB, s migrations.Schema) sqldb.DB { return SQLite(t, s) }},
}

// EachBackend runs suite once per backend, as subtests named after it.
func EachBackend(t *testing.T, suite func(t *testing.T, b Backend)) {
	for _, b := range Backends {
		t.Run(b.Name, func(t *testing.T) { suite(t, b) })
	}
}

// SQLite is a fresh embedded database in the test's temporary directory
// with schema migrated up, closed when the test ends.
func SQLite(t testing.TB, schema migrations.Schema) *sqldb.SQLiteDB {
	t.Helper()
	db, err := sqldb.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), schema.Dir+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := migrations.UpSQLite(db, schema); err != nil {
		t.Fatal(err)
	}
	return db
}

// Close closes db, whichever backend it is on: a fault test's way of
// taking the database away from the store under test.
func Close(db sqldb.DB) {
	if c, ok := db.(interface{ Close() }); ok {
		c.Close()
		return
	}
	if c, ok := db.(io.Closer); ok {
		c.Close()
	}
}
