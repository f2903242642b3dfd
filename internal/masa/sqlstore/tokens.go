package sqlstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/masa"
)

// tokenCols select a masa.Token by position.
const tokenCols = `id, name, role, secret_sha256, created_at, revoked_at`

// CreateToken implements masa.Store.
func (s *Store) CreateToken(ctx context.Context, t masa.Token) (masa.Token, error) {
	err := s.inTx(ctx, "create token", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO tokens (name, role, secret_sha256, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			t.Name, string(t.Role), t.SHA256, t.CreatedAt).Scan(&t.ID)
		if err != nil {
			return duplicate(err)
		}
		return insertEvent(ctx, tx, masa.AuditEvent{At: t.CreatedAt, Actor: "cli", Action: "token.create",
			Detail: map[string]any{"token-id": t.ID, "name": t.Name, "role": t.Role}})
	})
	return t, err
}

// TokenBySecret implements masa.Store.
func (s *Store) TokenBySecret(ctx context.Context, sha []byte) (masa.Token, error) {
	return queryOne[masa.Token](ctx, s, "token by secret", `SELECT `+tokenCols+` FROM tokens WHERE secret_sha256 = $1 AND revoked_at IS NULL`, sha)
}

// ListTokens implements masa.Store.
func (s *Store) ListTokens(ctx context.Context) ([]masa.Token, error) {
	return queryAll[masa.Token](ctx, s.db, "list tokens", `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
}

// RevokeToken implements masa.Store.
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	return s.inTx(ctx, "revoke token", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, at)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return masa.ErrNotFound
		}
		return insertEvent(ctx, tx, masa.AuditEvent{At: at, Actor: "admin", Action: "token.revoke",
			Detail: map[string]any{"token-id": id}})
	})
}
