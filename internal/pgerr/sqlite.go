package pgerr

import (
	"errors"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The embedded store (internal/sqldb) fails with SQLite's result codes;
// these map them onto the SQLSTATEs and the unreachable class above, so
// that the stores classify both backends with one rule.

// sqliteCode is the SQLSTATE of a SQLite constraint violation, or "".
func sqliteCode(err error) string {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return ""
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return UniqueViolation
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return ForeignKeyViolation
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return CheckViolation
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return "23502"
	}
	return ""
}

// sqliteUnreachable reports a database that is busy past the busy timeout,
// locked, closed, out of disk or whose file cannot be read: the request may
// succeed later.
func sqliteUnreachable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
			return true
		}
		return false
	}
	// database/sql's answer after Close is an unexported error.
	return strings.Contains(err.Error(), "sql: database is closed")
}
