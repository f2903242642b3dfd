package pgerr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/landfall-io/landfall/internal/pgerr"
)

func TestUnreachable(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"no rows", pgx.ErrNoRows, false},
		{"unique violation", &pgconn.PgError{Code: pgerr.UniqueViolation}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"canceled by the client", context.Canceled, false},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"connection lost", io.ErrUnexpectedEOF, true},
		{"EOF", io.EOF, true},
		{"closed pool", puddle.ErrClosedPool, true},
		{"deadline", context.DeadlineExceeded, true},
		{"net error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"wrapped", fmt.Errorf("store: ping: %w", &pgconn.PgError{Code: "57P01"}), true},
	} {
		if got := pgerr.Unreachable(c.err); got != c.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

// A real connection attempt to a loopback port where nothing listens is
// unreachable, as pgx reports it.
func TestUnreachableRefusedConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pgx.Connect(ctx, "postgres://nobody@"+addr+"/none?sslmode=disable&connect_timeout=5")
	if err == nil || !pgerr.Unreachable(err) {
		t.Fatalf("refused connection: Unreachable(%v) = false", err)
	}
}

func TestCode(t *testing.T) {
	if got := pgerr.Code(fmt.Errorf("x: %w", &pgconn.PgError{Code: pgerr.CheckViolation})); got != pgerr.CheckViolation {
		t.Errorf("Code = %q", got)
	}
	if got := pgerr.Code(errors.New("x")); got != "" {
		t.Errorf("Code of a non-PostgreSQL error = %q", got)
	}
}
