package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// errUnsupported answers the parts of pgx.Tx that no store uses on SQLite.
var errUnsupported = errors.New("sqldb: not supported on SQLite")

// sqliteTx is a database/sql transaction as a pgx.Tx.
type sqliteTx struct {
	tx *sql.Tx
}

var _ pgx.Tx = (*sqliteTx)(nil)

// Begin would be a savepoint; the stores do not nest transactions.
func (t *sqliteTx) Begin(context.Context) (pgx.Tx, error) { return nil, errUnsupported }

// Commit commits; pgx.ErrTxClosed if the transaction already ended.
func (t *sqliteTx) Commit(context.Context) error { return txClosed(t.tx.Commit()) }

// Rollback rolls back; after a commit it reports pgx.ErrTxClosed, which
// pgx.BeginFunc expects.
func (t *sqliteTx) Rollback(context.Context) error { return txClosed(t.tx.Rollback()) }

func txClosed(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return pgx.ErrTxClosed
	}
	return err
}

// CopyFrom inserts the rows one statement each, inside the transaction:
// SQLite has no COPY, and within one transaction the inserts are cheap.
func (t *sqliteTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	marks := make([]string, len(columns))
	quoted := make([]string, len(columns))
	for i, c := range columns {
		marks[i] = fmt.Sprintf("$%d", i+1)
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	stmt := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table.Sanitize(), strings.Join(quoted, ", "), strings.Join(marks, ", "))
	var n int64
	for src.Next() {
		vals, err := src.Values()
		if err != nil {
			return n, err
		}
		if _, err := execOn(ctx, t.tx, stmt, vals); err != nil {
			return n, err
		}
		n++
	}
	return n, src.Err()
}

func (t *sqliteTx) SendBatch(context.Context, *pgx.Batch) pgx.BatchResults { return failedBatch{} }

func (t *sqliteTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

func (t *sqliteTx) Prepare(context.Context, string, string) (*pgconn.StatementDescription, error) {
	return nil, errUnsupported
}

func (t *sqliteTx) Exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error) {
	return execOn(ctx, t.tx, query, args)
}

func (t *sqliteTx) Query(ctx context.Context, query string, args ...any) (pgx.Rows, error) {
	return queryOn(ctx, t.tx, query, args)
}

func (t *sqliteTx) QueryRow(ctx context.Context, query string, args ...any) pgx.Row {
	return queryRowOn(ctx, t.tx, query, args)
}

// Conn is nil: there is no pgx connection underneath.
func (t *sqliteTx) Conn() *pgx.Conn { return nil }

// failedBatch is SendBatch's answer: every result is errUnsupported.
type failedBatch struct{}

func (failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, errUnsupported }
func (failedBatch) Query() (pgx.Rows, error)         { return nil, errUnsupported }
func (failedBatch) QueryRow() pgx.Row                { return &row{err: errUnsupported} }
func (failedBatch) Close() error                     { return nil }
func (failedBatch) Tx() pgx.Tx                       { return nil }
