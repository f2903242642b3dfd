package sqldb

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what a store needs of its database: pgx's query methods, a
// transaction and a liveness check. *pgxpool.Pool and *SQLiteDB satisfy it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	Ping(ctx context.Context) error
}

// Dialect is the SQL a backend speaks.
type Dialect int

// The dialects.
const (
	PostgreSQL Dialect = iota
	SQLite
)

func (d Dialect) String() string {
	if d == SQLite {
		return "sqlite"
	}
	return "postgresql"
}

// DialectOf reports the dialect of db: SQLite for *SQLiteDB, PostgreSQL for
// anything else (a pgx pool or connection).
func DialectOf(db DB) Dialect {
	if _, ok := db.(*SQLiteDB); ok {
		return SQLite
	}
	return PostgreSQL
}

// Pick returns the text for db's dialect: pg for PostgreSQL, lite for
// SQLite. Stores use it for the few statements that are not portable.
func Pick(db DB, pg, lite string) string {
	if DialectOf(db) == SQLite {
		return lite
	}
	return pg
}
