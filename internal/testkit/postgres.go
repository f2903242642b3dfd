package testkit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
)

// Querier is what the database helpers read through (a *pgxpool.Pool, a
// *pgx.Conn).
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Database is a fresh database of the test cluster with schema migrated
// up, by its URL.
func Database(t testing.TB, schema migrations.Schema) string {
	t.Helper()
	dsn := testpg.Database(t)
	if _, err := migrations.Up(dsn, schema); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Pool is a pool on a fresh database with schema migrated up, closed when
// the test ends.
func Pool(t testing.TB, schema migrations.Schema) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), Database(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Count is the number of rows in table.
func Count(t testing.TB, db Querier, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Snapshot digests the rows of each table (count and an md5 over the rows
// in order), so that comparing two snapshots shows whether a request
// changed anything.
func Snapshot(t testing.TB, db Querier, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range tables {
		var n int64
		var digest *string
		err := db.QueryRow(context.Background(),
			fmt.Sprintf(`SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM %s t`, table)).Scan(&n, &digest)
		if err != nil {
			t.Fatal(err)
		}
		d := ""
		if digest != nil {
			d = *digest
		}
		fmt.Fprintf(&b, "%s:%d:%s ", table, n, d)
	}
	return b.String()
}

// StopPostgreSQL stops cluster for a fault test and returns the function
// that starts it again; if the test ends first, a cleanup starts it, so
// the tests after it find the shared cluster running.
func StopPostgreSQL(t testing.TB, cluster *testpg.Cluster) (restart func()) {
	t.Helper()
	if err := cluster.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			cluster.Start(context.Background())
		}
	})
	return func() {
		t.Helper()
		if err := cluster.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		restarted = true
	}
}
