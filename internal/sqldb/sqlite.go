package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// BusyTimeoutMillis is how long (ms) a statement waits for another connection's write
// lock before the database counts as unavailable (internal/pgerr).
const BusyTimeoutMillis = 10000

// maxConns bounds the connections to one file: readers run in parallel
// under WAL, writers queue on the write lock.
const maxConns = 8

// SQLiteDB is an embedded SQLite database behind the pgx query surface. It
// is safe for concurrent use; one process at a time holds the file.
type SQLiteDB struct {
	db   *sql.DB
	lock *os.File
	path string
}

// InUseError is Open's answer when another process holds the file.
type InUseError struct {
	Path string
	PID  string // as the holder wrote it into the lock file; may be empty
}

func (e *InUseError) Error() string {
	holder := "another process"
	if e.PID != "" {
		holder += " (pid " + e.PID + ")"
	}
	return fmt.Sprintf("sqldb: %s is in use by %s: an embedded store serves exactly one process", e.Path, holder)
}

// OpenSQLite opens (creating it if needed) the SQLite database at path and
// locks it for this process: a second OpenSQLite of the same path, from any
// process, fails with *InUseError until Close. The schema is not migrated
// here (package migrations does that).
func OpenSQLite(ctx context.Context, path string) (*SQLiteDB, error) {
	return openSQLite(ctx, path, true)
}

// OpenSQLiteShared opens the database at path without the process lock,
// for a short-lived tool (the operator CLI) beside the serving process:
// SQLite itself serialises their writes under WAL. The file must exist.
func OpenSQLiteShared(ctx context.Context, path string) (*SQLiteDB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqldb: %w", err)
	}
	return openSQLite(ctx, path, false)
}

func openSQLite(ctx context.Context, path string, exclusive bool) (*SQLiteDB, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqldb: %q: a database path may not contain '?' or '#'", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqldb: %w", err)
	}
	var lock *os.File
	if exclusive {
		if lock, err = lockFile(abs + ".lock"); err != nil {
			return nil, err
		}
	}
	dsn := abs + "?_txlock=immediate&_busy_timeout=" + strconv.Itoa(BusyTimeoutMillis) +
		"&_journal_mode=WAL&_foreign_keys=1&_synchronous=NORMAL"
	db, err := sql.Open("sqlite", dsn)
	if err == nil {
		db.SetMaxOpenConns(maxConns)
		db.SetMaxIdleConns(maxConns)
		err = db.PingContext(ctx)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		unlock(lock)
		return nil, fmt.Errorf("sqldb: open %s: %w", abs, err)
	}
	return &SQLiteDB{db: db, lock: lock, path: abs}, nil
}

// lockFile takes an exclusive advisory lock on name for the life of the
// process (the kernel drops it when the process dies, even by kill -9) and
// writes the pid into it for the next one's error message.
func lockFile(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqldb: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(name)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Path: strings.TrimSuffix(name, ".lock"), PID: strings.TrimSpace(string(pid))}
		}
		return nil, fmt.Errorf("sqldb: lock %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func unlock(f *os.File) {
	if f == nil {
		return
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

// Path is the database file.
func (s *SQLiteDB) Path() string { return s.path }

// SQL is the underlying database/sql handle, for the migration driver and
// for backups (VACUUM INTO).
func (s *SQLiteDB) SQL() *sql.DB { return s.db }

// BackupTo writes a consistent copy of the database to the new file path
// (VACUUM INTO), while others go on reading and writing: a backup of a
// running single node. The copy is a complete database, ready to be put
// in place of the original with the service stopped.
func (s *SQLiteDB) BackupTo(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("sqldb: backup: %s exists", path)
	}
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO $1`, path); err != nil {
		return fmt.Errorf("sqldb: backup to %s: %w", path, err)
	}
	return nil
}

// Close closes the database and releases the file to the next process.
func (s *SQLiteDB) Close() error {
	err := s.db.Close()
	unlock(s.lock)
	return err
}

// Ping checks that the database answers.
func (s *SQLiteDB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Exec runs a statement and reports the rows it affected.
func (s *SQLiteDB) Exec(ctx context.Context, query string, args ...any) (pgconn.CommandTag, error) {
	return execOn(ctx, s.db, query, args)
}

// Query runs a query; the rows scan as pgx's would.
func (s *SQLiteDB) Query(ctx context.Context, query string, args ...any) (pgx.Rows, error) {
	return queryOn(ctx, s.db, query, args)
}

// QueryRow runs a query expected to return at most one row.
func (s *SQLiteDB) QueryRow(ctx context.Context, query string, args ...any) pgx.Row {
	return queryRowOn(ctx, s.db, query, args)
}

// Begin starts a transaction holding the write lock (BEGIN IMMEDIATE).
func (s *SQLiteDB) Begin(ctx context.Context) (pgx.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqliteTx{tx: tx}, nil
}

// runner is what *sql.DB and *sql.Tx share.
type runner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func execOn(ctx context.Context, r runner, query string, args []any) (pgconn.CommandTag, error) {
	vals, err := values(args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	res, err := r.ExecContext(ctx, query, vals...)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	n, _ := res.RowsAffected()
	return commandTag(query, n), nil
}

// commandTag is PostgreSQL's tag for a statement that affected n rows, so
// that RowsAffected, Insert, Update and Delete read as they do with pgx.
func commandTag(query string, n int64) pgconn.CommandTag {
	verb, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	verb = strings.ToUpper(verb)
	if verb == "INSERT" {
		return pgconn.NewCommandTag(fmt.Sprintf("INSERT 0 %d", n))
	}
	return pgconn.NewCommandTag(fmt.Sprintf("%s %d", verb, n))
}

func queryOn(ctx context.Context, r runner, query string, args []any) (pgx.Rows, error) {
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	rows, err := r.QueryContext(ctx, query, vals...)
	if err != nil {
		return nil, err
	}
	out, err := newRows(rows, query)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func queryRowOn(ctx context.Context, r runner, query string, args []any) pgx.Row {
	rows, err := queryOn(ctx, r, query, args)
	return &row{rows: rows, err: err}
}
