package sqldb

import (
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// rows is database/sql's result set as pgx.Rows: Scan converts what
// values() encoded (times, JSON arrays) back, and CommandTag counts rows.
type rows struct {
	rows   *sql.Rows
	query  string
	fields []pgconn.FieldDescription
	n      int64
	err    error
	closed bool
}

var _ pgx.Rows = (*rows)(nil)

func newRows(r *sql.Rows, query string) (*rows, error) {
	cols, err := r.Columns()
	if err != nil {
		r.Close()
		return nil, err
	}
	fields := make([]pgconn.FieldDescription, len(cols))
	for i, c := range cols {
		fields[i] = pgconn.FieldDescription{Name: c}
	}
	return &rows{rows: r, query: query, fields: fields}, nil
}

func (r *rows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	if err := r.rows.Close(); err != nil && r.err == nil {
		r.err = err
	}
	if err := r.rows.Err(); err != nil && r.err == nil {
		r.err = err
	}
}

func (r *rows) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.rows.Err()
}

func (r *rows) CommandTag() pgconn.CommandTag { return commandTag(r.query, r.n) }

func (r *rows) FieldDescriptions() []pgconn.FieldDescription { return r.fields }

func (r *rows) Next() bool {
	if r.closed {
		return false
	}
	if r.rows.Next() {
		r.n++
		return true
	}
	r.Close()
	return false
}

func (r *rows) Scan(dest ...any) error {
	if err := r.rows.Scan(scanTargets(dest)...); err != nil {
		r.err = err
		r.Close()
		return err
	}
	return nil
}

// Values returns the current row's columns as database/sql decoded them.
func (r *rows) Values() ([]any, error) {
	vals := make([]any, len(r.fields))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals, nil
}

// RawValues has one (nil) entry per column: pgx's positional scanners only
// count them.
func (r *rows) RawValues() [][]byte { return make([][]byte, len(r.fields)) }

func (r *rows) Conn() *pgx.Conn { return nil }

// TypeMap is nil: values are decoded by database/sql, not pgtype.
func (r *rows) TypeMap() *pgtype.Map { return nil }

// row is QueryRow's answer: the first row of rows, pgx.ErrNoRows if none.
type row struct {
	rows pgx.Rows
	err  error
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	if err := r.rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return nil
}
