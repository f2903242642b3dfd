package sqlstore

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/pgerr"
)

// classify wraps err with op, as the registrar's store does: a database
// that cannot be reached becomes masa.Unavailable (503 with Retry-After),
// the store's sentinels pass unchanged, anything else is wrapped for the
// log and answers 500.
func classify(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, masa.ErrNotFound), errors.Is(err, masa.ErrDuplicate), errors.Is(err, masa.ErrUnavailable):
		return err
	case pgerr.Unreachable(err):
		return masa.Unavailable(pgerr.RetryAfter, fmt.Errorf("sqlstore: %s: %w", op, err))
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// notFound turns "no row" into masa.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return masa.ErrNotFound
	}
	return err
}

// duplicate turns a unique violation into masa.ErrDuplicate.
func duplicate(err error) error {
	if pgerr.Code(err) == pgerr.UniqueViolation {
		return masa.ErrDuplicate
	}
	return err
}
