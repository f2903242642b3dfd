package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/masa"
)

// Store is masa.Store on a pgx pool. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ masa.Store = (*Store)(nil)

// Open connects a pool of at most maxConns connections (0: pgx's default)
// to dsn. It does not migrate: run migrations.Up with
// migrations.MASASchema first.
func Open(ctx context.Context, dsn string, maxConns int32) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return &Store{pool: pool}, nil
}

// New wraps an existing pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool exposes the pool, for tests that inspect tables.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return classify("ping", s.pool.Ping(ctx)) }

// inTx runs fn in a transaction, committing when it returns nil, and
// classifies the error.
func (s *Store) inTx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	return classify(op, pgx.BeginFunc(ctx, s.pool, fn))
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
	rows, err := s.pool.Query(ctx, sql, args...)
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
