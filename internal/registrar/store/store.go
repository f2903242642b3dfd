package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/sqldb"
)

// Store is the registrar's state on PostgreSQL (any number of replicas) or
// on the embedded SQLite store (one registrar). It is safe for concurrent
// use.
type Store struct {
	db  sqldb.DB
	now func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read the time from now instead of time.Now,
// for the timestamps it writes (decisions, tokens, audit events) and the
// liveness of ATLS contexts.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns a store on db: a *pgxpool.Pool or an *sqldb.SQLiteDB. The
// schema must already be migrated.
func New(db sqldb.DB, opts ...Option) *Store {
	s := &Store{db: db, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Ping checks that the database answers, for a readiness probe.
func (s *Store) Ping(ctx context.Context) error {
	return classify("ping", s.db.Ping(ctx))
}

// clock is the store's time, at the microsecond precision PostgreSQL keeps.
func (s *Store) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// sql picks the statement for the store's dialect: pg for PostgreSQL, lite
// for SQLite, where the two cannot share one text.
func (s *Store) sql(pg, lite string) string { return sqldb.Pick(s.db, pg, lite) }

// onPostgreSQL reports whether the store is PostgreSQL, where a write
// that needs several statements is one statement with WITH clauses (one
// round trip) instead of a transaction of several.
func (s *Store) onPostgreSQL() bool { return sqldb.DialectOf(s.db) == sqldb.PostgreSQL }

// inTx runs fn in one transaction, committing when it returns nil, and
// classifies the error.
func (s *Store) inTx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	return classify(op, pgx.BeginFunc(ctx, s.db, fn))
}

// Page is one page of a keyset-paginated list. Next is the cursor of the
// following page, empty on the last one.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Paging limits: a list returns DefaultLimit items unless asked for up to
// MaxLimit.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

func limitOf(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, invalidf("limit must be between 1 and %d", MaxLimit)
	}
	return n, nil
}

// Cursors are opaque to clients: base64url of a JSON array holding the
// sort key of the last item returned.
func encodeCursor(key ...any) string {
	b, _ := json.Marshal(key)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor fills dst (pointers) from c; an empty c leaves them alone
// and reports false.
func decodeCursor(c string, dst ...any) (bool, error) {
	if c == "" {
		return false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return false, invalidf("malformed cursor")
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) != len(dst) {
		return false, invalidf("malformed cursor")
	}
	for i, p := range parts {
		if err := json.Unmarshal(p, dst[i]); err != nil {
			return false, invalidf("malformed cursor")
		}
	}
	return true, nil
}

// pageOf trims rows fetched with limit+1 to limit and sets Next from the
// last item kept.
func pageOf[T any](rows []T, limit int, key func(T) string) Page[T] {
	p := Page[T]{Items: rows}
	if p.Items == nil {
		p.Items = []T{}
	}
	if len(rows) > limit {
		p.Items = rows[:limit]
		p.Next = key(rows[limit-1])
	}
	return p
}

func wrapf(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
