// Package sqldb is the one query surface Landfall's stores are written
// against, and its two backends.
//
// The stores (internal/registrar/store, ctxstore and replica, and
// internal/masa/sqlstore) were written for PostgreSQL through pgx; DB is
// exactly the part of pgx they use. *pgxpool.Pool satisfies it as it is,
// for the replicated deployment. SQLite, the embedded single-node store
// (DESIGN decision 7, issue 13), is reached through modernc.org/sqlite (pure
// Go) and adapted to the same surface by this package:
//
//   - Placeholders: SQLite reads $1, $2, ... as ordinal parameters, so the
//     SQL text is not rewritten.
//   - Values: time.Time travels as fixed-width UTC text
//     (2006-01-02T15:04:05.000000Z), so that SQL compares and orders
//     timestamps as PostgreSQL does; a slice other than []byte travels as a
//     JSON array, which the SQLite queries read with json_each.
//   - Scanning: the reverse of both, into *time.Time, **time.Time and slice
//     destinations; everything else is database/sql's own conversion.
//   - Errors: no row is pgx.ErrNoRows; constraint violations and a busy
//     database are classified by internal/pgerr like PostgreSQL's.
//   - Concurrency: WAL, a busy timeout, and transactions that take the write
//     lock when they begin (BEGIN IMMEDIATE), so that concurrent writers
//     queue instead of failing; one process holds the file (Open locks it),
//     because SQLite cannot be shared by replicas on other machines.
//
// Where SQL is not portable a store keeps one text per dialect (Dialect).
package sqldb
