package pgerr

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// RetryAfter is what a client is told to wait when the database cannot be
// reached: long enough for a restart or a fail-over to finish.
const RetryAfter = 5 * time.Second

// SQLSTATE codes the stores translate (PostgreSQL Appendix A, class 23).
const (
	UniqueViolation     = "23505"
	ForeignKeyViolation = "23503"
	CheckViolation      = "23514"
)

// Unreachable reports whether err means the database could not be reached
// or stopped serving: no connection, a connection lost mid-statement, a
// closed pool, a deadline that ran out waiting for it, or a server that is
// shutting down. Such a request may succeed later; any other error is the
// request's own or a bug.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.Is(err, puddle.ErrClosedPool), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, sql.ErrConnDone):
		return true
	case sqliteUnreachable(err):
		return true
	case errors.As(err, &pe):
		// Class 08: connection exception; 57P01-03: the server is shutting
		// down or cannot accept connections.
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return pgconn.SafeToRetry(err)
}

// Code returns the SQLSTATE err carries, or "" when it carries none.
func Code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return sqliteCode(err)
}
