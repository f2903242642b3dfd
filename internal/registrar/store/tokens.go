package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Role is what an admin token may do. Each role includes the ones below
// it: an operator can do what an auditor can, an admin everything.
type Role string

// Roles, as the schema's CHECK lists them.
const (
	RoleAuditor  Role = "auditor"  // read everything
	RoleOperator Role = "operator" // + approve/deny pledges, manage the allow-list
	RoleAdmin    Role = "admin"    // + manufacturers and tokens
)

// Includes reports whether r may do what role need may.
func (r Role) Includes(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

func (r Role) rank() int {
	switch r {
	case RoleAuditor:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Principal is who a valid token speaks for.
type Principal struct {
	TokenID int64  `json:"token_id"`
	Name    string `json:"name"`
	Role    Role   `json:"role"`
}

// Actor names the principal in audit events: "token:<id>:<name>".
func (p Principal) Actor() string {
	return "token:" + strconv.FormatInt(p.TokenID, 10) + ":" + p.Name
}

// Token is an admin token as listed: never its secret.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateToken makes a token for name with role and returns its plaintext,
// which is shown once: only its SHA-256 is stored. 32 random bytes make
// guessing hopeless, so a fast hash is enough.
func (s *Store) CreateToken(ctx context.Context, name string, role Role, actor string) (string, error) {
	if n := len([]rune(name)); n < 1 || n > 200 {
		return "", invalidf("token name must be 1 to 200 characters")
	}
	if !role.Valid() {
		return "", invalidf("role must be admin, operator or auditor")
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(secret[:])
	err := s.inTx(ctx, "create token", func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO admin_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			name, string(role), hashToken(token), s.clock()).Scan(&id)
		if err != nil {
			return err
		}
		return s.appendTx(ctx, tx, Event{Actor: actor, Action: "token.create", Subject: tokenSubject(id),
			Detail: map[string]any{"name": name, "role": role}})
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// Authenticate returns the principal of a valid token; an unknown or
// revoked token is ErrUnauthenticated.
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	var p Principal
	err := s.db.QueryRow(ctx, `SELECT id, name, role FROM admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL`,
		hashToken(token)).Scan(&p.TokenID, &p.Name, &p.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, classify("authenticate", err)
	}
	return p, nil
}

// RevokeToken revokes token id; it no longer authenticates. Revoking a
// revoked token is ErrConflict.
func (s *Store) RevokeToken(ctx context.Context, id int64, actor string) error {
	return s.inTx(ctx, "revoke token", func(tx pgx.Tx) error {
		var revoked *time.Time
		err := tx.QueryRow(ctx, s.sql(
			`SELECT revoked_at FROM admin_tokens WHERE id = $1 FOR UPDATE`,
			// An SQLite transaction holds the write lock from its start.
			`SELECT revoked_at FROM admin_tokens WHERE id = $1`), id).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("token", id)
		}
		if err != nil {
			return err
		}
		if revoked != nil {
			return conflictf("token %d is already revoked", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1`, id, s.clock()); err != nil {
			return err
		}
		return s.appendTx(ctx, tx, Event{Actor: actor, Action: "token.revoke", Subject: tokenSubject(id)})
	})
}

// ListTokens returns every token, revoked ones included, by id.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := s.db.Query(ctx, `SELECT id, name, role, created_at, revoked_at FROM admin_tokens ORDER BY id`)
	if err != nil {
		return nil, classify("list tokens", err)
	}
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Token])
	if err != nil {
		return nil, classify("list tokens", err)
	}
	if ts == nil {
		ts = []Token{}
	}
	return ts, nil
}

func tokenSubject(id int64) string { return "token:" + strconv.FormatInt(id, 10) }
