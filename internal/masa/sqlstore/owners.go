package sqlstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/masa"
)

// ownerCols select a masa.Owner by position.
const ownerCols = `id, name, ca_cert, ca_sha256, domain_id, created_at`

// CreateOwner implements masa.Store.
func (s *Store) CreateOwner(ctx context.Context, o masa.Owner, ev masa.AuditEvent) (masa.Owner, error) {
	err := s.inTx(ctx, "create owner", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO owners (name, ca_cert, ca_sha256, domain_id, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ca_sha256) DO NOTHING RETURNING id`,
			o.Name, o.CACert, o.CASHA256, o.DomainID, o.CreatedAt).Scan(&o.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			// Already known: return it unchanged, record nothing.
			return tx.QueryRow(ctx, `SELECT id, name, created_at FROM owners WHERE ca_sha256 = $1`, o.CASHA256).
				Scan(&o.ID, &o.Name, &o.CreatedAt)
		}
		if err != nil {
			return err
		}
		if ev.Detail == nil {
			ev.Detail = map[string]any{}
		}
		ev.Detail["owner-id"] = o.ID
		return insertEvent(ctx, tx, ev)
	})
	return o, err
}

// Owner implements masa.Store.
func (s *Store) Owner(ctx context.Context, id int64) (masa.Owner, error) {
	return queryOne[masa.Owner](ctx, s, "owner", `SELECT `+ownerCols+` FROM owners WHERE id = $1`, id)
}

// ListOwners implements masa.Store.
func (s *Store) ListOwners(ctx context.Context) ([]masa.Owner, error) {
	return queryAll[masa.Owner](ctx, s.db, "list owners", `SELECT `+ownerCols+` FROM owners ORDER BY id`)
}

// OwnersByAnchor implements masa.Store.
func (s *Store) OwnersByAnchor(ctx context.Context, sha256s [][]byte, domainIDs []string) ([]masa.Owner, error) {
	return queryAll[masa.Owner](ctx, s.db, "owners by anchor", `SELECT `+ownerCols+` FROM owners
		WHERE `+inByteList(s.db, "ca_sha256", 1)+` OR `+inList(s.db, "domain_id", 2)+` ORDER BY id LIMIT 64`,
		byteList(s.db, sha256s), domainIDs)
}

// AssignOwner implements masa.Store.
func (s *Store) AssignOwner(ctx context.Context, sel masa.Selection, ownerID int64, ev masa.AuditEvent) ([]string, error) {
	var changed []string
	err := s.inTx(ctx, "assign owner", func(tx pgx.Tx) error {
		if err := checkListed(ctx, s.db, tx, sel); err != nil {
			return err
		}
		var owner *int64
		if ownerID != 0 {
			owner = &ownerID
		}
		where, args := selectionWhere(s.db, sel, 3)
		rows, err := tx.Query(ctx, `UPDATE devices SET owner_id = $1, updated_at = $2 WHERE `+where+
			` AND owner_id IS DISTINCT FROM $1 RETURNING serial_number`, append([]any{owner, ev.At}, args...)...)
		if err != nil {
			return err
		}
		changed, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if ev.Detail == nil {
			ev.Detail = map[string]any{}
		}
		ev.Detail["changed"] = len(changed)
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return nil, err
	}
	if changed == nil {
		changed = []string{}
	}
	return changed, nil
}
