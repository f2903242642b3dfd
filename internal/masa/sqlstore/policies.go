package sqlstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/masa"
)

// SetPolicy implements masa.Store.
func (s *Store) SetPolicy(ctx context.Context, scope, subject string, p masa.Policy, ev masa.AuditEvent) error {
	return s.inTx(ctx, "set policy", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO policies (scope, subject, nonceless_allowed, max_lifetime_seconds, trust_on_first_use, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (scope, subject) DO UPDATE SET nonceless_allowed = $3, max_lifetime_seconds = $4,
				trust_on_first_use = $5, updated_at = $6`,
			scope, subject, p.NoncelessAllowed, int64(p.MaxLifetime/time.Second), p.TrustOnFirstUse, ev.At)
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
}

// DeletePolicy implements masa.Store.
func (s *Store) DeletePolicy(ctx context.Context, scope, subject string, ev masa.AuditEvent) error {
	return s.inTx(ctx, "delete policy", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM policies WHERE scope = $1 AND subject = $2`, scope, subject)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return masa.ErrNotFound
		}
		return insertEvent(ctx, tx, ev)
	})
}
