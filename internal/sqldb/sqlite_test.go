package sqldb_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/pgerr"
	"github.com/landfall-io/landfall/internal/sqldb"
)

func open(t *testing.T) (*sqldb.SQLiteDB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sqldb.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(context.Background(), `CREATE TABLE t (
		id INTEGER PRIMARY KEY, name text NOT NULL UNIQUE CHECK (length(name) > 0),
		at text NOT NULL, gone text, tags text, blob blob)`)
	if err != nil {
		t.Fatal(err)
	}
	return db, path
}

func TestSecondOpenIsRefused(t *testing.T) {
	_, path := open(t)
	_, err := sqldb.OpenSQLite(context.Background(), path)
	var inUse *sqldb.InUseError
	if !errors.As(err, &inUse) || inUse.PID == "" {
		t.Fatalf("second open: %v, want *InUseError naming the holder's pid", err)
	}
}

func TestReopenAfterClose(t *testing.T) {
	db, path := open(t)
	db.Close()
	again, err := sqldb.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	again.Close()
}

func TestValuesRoundTrip(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 2, 13, 0, 0, 123456000, time.FixedZone("x", 3600))
	tag, err := db.Exec(ctx, `INSERT INTO t (name, at, gone, tags, blob) VALUES ($1, $2, $3, $4, $5)`,
		"a", at, (*time.Time)(nil), []int64{3, 1}, []byte{0, 1})
	if err != nil || tag.RowsAffected() != 1 || !tag.Insert() {
		t.Fatalf("insert: %v %v", tag, err)
	}
	var (
		gotAt   time.Time
		gone    *time.Time
		tags    []int64
		blob    []byte
		matched int
	)
	err = db.QueryRow(ctx, `SELECT at, gone, tags, blob, (SELECT count(*) FROM json_each($1) WHERE value = 3)
		FROM t WHERE at >= $2`, []int64{3, 4}, at.Add(-time.Microsecond)).Scan(&gotAt, &gone, &tags, &blob, &matched)
	if err != nil {
		t.Fatal(err)
	}
	if !gotAt.Equal(at) || gone != nil || len(tags) != 2 || tags[0] != 3 || len(blob) != 2 || matched != 1 {
		t.Fatalf("round trip: %v %v %v %v %d", gotAt, gone, tags, blob, matched)
	}
}

func TestErrors(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	var n int
	if err := db.QueryRow(ctx, `SELECT id FROM t WHERE name = $1`, "none").Scan(&n); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("no row: %v, want pgx.ErrNoRows", err)
	}
	insert := func(name string) error {
		_, err := db.Exec(ctx, `INSERT INTO t (name, at) VALUES ($1, $2)`, name, time.Now())
		return err
	}
	if err := insert("a"); err != nil {
		t.Fatal(err)
	}
	if err := insert("a"); pgerr.Code(err) != pgerr.UniqueViolation {
		t.Fatalf("duplicate: %v, code %q", err, pgerr.Code(err))
	}
	if err := insert(""); pgerr.Code(err) != pgerr.CheckViolation {
		t.Fatalf("check: %v, code %q", err, pgerr.Code(err))
	}
	db.Close()
	if err := db.Ping(ctx); !pgerr.Unreachable(err) {
		t.Fatalf("closed database: %v is not unreachable", err)
	}
}

func TestTransactions(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO t (name, at) VALUES ('rolled', $1)`, time.Now()); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rollback: %v", err)
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"name", "at"},
			pgx.CopyFromRows([][]any{{"x", time.Now()}, {"y", time.Now()}}))
		if n != 2 {
			t.Errorf("copied %d rows", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := db.Query(ctx, `SELECT name FROM t ORDER BY name`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) != 2 || names[0] != "x" {
		t.Fatalf("after commit and rollback: %v %v", names, err)
	}
}

// Concurrent writers queue on the write lock instead of failing with
// SQLITE_BUSY: transactions begin IMMEDIATE and wait the busy timeout.
func TestConcurrentWritersQueue(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	const writers, each = 16, 25
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			var err error
			for i := 0; i < each && err == nil; i++ {
				err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
					var n int
					if err := tx.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `INSERT INTO t (name, at) VALUES ($1, $2)`,
						time.Now().String()+string(rune('a'+w))+string(rune('a'+i)), time.Now())
					return err
				})
			}
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != writers*each {
		t.Fatalf("%d rows (%v), want %d", n, err, writers*each)
	}
}

// A shared open (the operator CLI) works beside the serving process and
// sees its writes; it needs an existing file.
func TestSharedOpenBesideServer(t *testing.T) {
	db, path := open(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `INSERT INTO t (name, at) VALUES ('served', $1)`, time.Now()); err != nil {
		t.Fatal(err)
	}
	tool, err := sqldb.OpenSQLiteShared(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close()
	var n int
	if err := tool.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("shared open sees %d rows (%v)", n, err)
	}
	if _, err := sqldb.OpenSQLiteShared(ctx, filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Fatal("a shared open created a missing database")
	}
}

// A backup taken beside a writer is a complete database of its own.
func TestBackupTo(t *testing.T) {
	db, _ := open(t)
	ctx := context.Background()
	if _, err := db.Exec(ctx, `INSERT INTO t (name, at) VALUES ('kept', $1)`, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	if err := db.BackupTo(ctx, out); err != nil {
		t.Fatal(err)
	}
	if err := db.BackupTo(ctx, out); err == nil {
		t.Fatal("a backup overwrote an existing file")
	}
	copyDB, err := sqldb.OpenSQLite(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	var name string
	if err := copyDB.QueryRow(ctx, `SELECT name FROM t`).Scan(&name); err != nil || name != "kept" {
		t.Fatalf("the backup holds %q (%v)", name, err)
	}
}
