package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/migrations"
)

// Store is masa.Store on a sqldb.DB: a pgx pool or the embedded SQLite
// database. It is safe for concurrent use.
type Store struct {
	db    sqldb.DB
	close func()
}

var _ masa.Store = (*Store)(nil)

// Open connects a pool of at most maxConns connections (0: pgx's default)
// to the PostgreSQL database at dsn. It does not migrate: run
// migrations.Up with migrations.MASASchema first. Close closes the pool.
func Open(ctx context.Context, dsn string, maxConns int32) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	return &Store{db: pool, close: pool.Close}, nil
}

// OpenEmbedded opens the embedded SQLite database at path (created if
// missing, held by this process alone: a second open fails with
// *sqldb.InUseError), brings it to the newest version of
// migrations.MASASchema and returns the store on it with that version.
// Close closes the database and releases the file.
func OpenEmbedded(ctx context.Context, path string) (*Store, uint, error) {
	db, err := sqldb.OpenSQLite(ctx, path)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: %w", err)
	}
	v, err := migrations.UpSQLite(db, migrations.MASASchema)
	if err != nil {
		db.Close()
		return nil, 0, fmt.Errorf("sqlstore: %w", err)
	}
	return &Store{db: db, close: func() { db.Close() }}, v, nil
}

// OpenEmbeddedShared opens the existing embedded database at path without
// the process lock, beside the process serving it, for a short-lived
// operator command (`masa token create`, `masa device import`): SQLite
// serialises the writes of both (WAL, a busy timeout). It does not migrate.
// Close closes the database.
func OpenEmbeddedShared(ctx context.Context, path string) (*Store, error) {
	db, err := sqldb.OpenSQLiteShared(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	return &Store{db: db, close: func() { db.Close() }}, nil
}

// New wraps an open database: a pgx pool on a migrated database, or an
// embedded one already migrated. Close leaves it open.
func New(db sqldb.DB) *Store { return &Store{db: db, close: func() {}} }

// Close closes the database Open or OpenEmbedded opened.
func (s *Store) Close() { s.close() }

// DB exposes the database, for tests that inspect tables.
func (s *Store) DB() sqldb.DB { return s.db }

// Dialect is the SQL the store's database speaks.
func (s *Store) Dialect() sqldb.Dialect { return sqldb.DialectOf(s.db) }

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return classify("ping", s.db.Ping(ctx)) }

// inTx runs fn in a transaction, committing when it returns nil, and
// classifies the error.
func (s *Store) inTx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	return classify(op, pgx.BeginFunc(ctx, s.db, fn))
}

// queryAll runs a query and collects every row into a T by position.
func queryAll[T any](ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, op, sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[T])
	if err != nil {
		return nil, classify(op, err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// queryOne runs a query that selects at most one row into a T by position;
// no row is masa.ErrNotFound.
func queryOne[T any](ctx context.Context, s *Store, op, sql string, args ...any) (T, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		var zero T
		return zero, classify(op, err)
	}
	v, err := pgx.CollectOneRow(rows, pgx.RowToStructByPos[T])
	return v, classify(op, notFound(err))
}

func insertEvent(ctx context.Context, tx pgx.Tx, ev masa.AuditEvent) error {
	if ev.Action == "" {
		return nil
	}
	detail := ev.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_events (at, actor, action, serial_number, detail)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5)`, ev.At, ev.Actor, ev.Action, ev.SerialNumber, b)
	return err
}
