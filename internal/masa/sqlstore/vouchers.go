package sqlstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/masa"
)

// voucherCols select a masa.VoucherRecord by position.
const voucherCols = `id, serial_number, owner_id, domain_id, request_sha256, nonce, assertion, expires_on,
	registrar_subject, voucher, issued_at`

// VoucherByRequest implements masa.Store.
func (s *Store) VoucherByRequest(ctx context.Context, sha []byte) (masa.VoucherRecord, error) {
	return queryOne[masa.VoucherRecord](ctx, s, "voucher by request", `SELECT `+voucherCols+` FROM vouchers WHERE request_sha256 = $1`, sha)
}

// RecordVoucher implements masa.Store.
func (s *Store) RecordVoucher(ctx context.Context, v masa.VoucherRecord, claim *masa.Owner) (masa.VoucherRecord, error) {
	insert := func(ctx context.Context, q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) error {
		err := q.QueryRow(ctx, `INSERT INTO vouchers (serial_number, owner_id, domain_id, request_sha256, nonce,
				assertion, expires_on, registrar_subject, voucher, issued_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			v.SerialNumber, v.OwnerID, v.DomainID, v.RequestSHA256, v.Nonce, v.Assertion, v.ExpiresOn,
			v.RegistrarSubject, v.Voucher, v.IssuedAt).Scan(&v.ID)
		return duplicate(err)
	}
	if claim == nil {
		// The hot path: one statement, no explicit transaction.
		return v, classify("record voucher", insert(ctx, s.db))
	}
	err := s.inTx(ctx, "record voucher", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO owners (name, ca_cert, ca_sha256, domain_id, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (ca_sha256) DO UPDATE SET name = owners.name RETURNING id`,
			claim.Name, claim.CACert, claim.CASHA256, claim.DomainID, v.IssuedAt).Scan(&claim.ID)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE devices SET owner_id = $1, updated_at = $2
			WHERE serial_number = $3 AND owner_id IS NULL`, claim.ID, v.IssuedAt, v.SerialNumber)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return masa.ErrDuplicate
		}
		v.OwnerID = claim.ID
		if err := insert(ctx, tx); err != nil {
			return err
		}
		return insertEvent(ctx, tx, masa.AuditEvent{At: v.IssuedAt, Actor: "registrar:" + v.RegistrarSubject,
			Action: "ownership.claim", SerialNumber: v.SerialNumber,
			Detail: map[string]any{"owner-id": claim.ID, "trust-on-first-use": true}})
	})
	return v, err
}

// ListVouchers implements masa.Store, paged by id.
func (s *Store) ListVouchers(ctx context.Context, f masa.VoucherFilter) ([]masa.VoucherRecord, error) {
	return queryAll[masa.VoucherRecord](ctx, s.db, "list vouchers", `SELECT `+voucherCols+` FROM vouchers
		WHERE ($1 = '' OR serial_number = $1) AND ($2 = 0 OR owner_id = $2) AND id > $3
		ORDER BY id LIMIT $4`, f.SerialNumber, f.OwnerID, f.After, f.Limit)
}

// DeviceVouchers implements masa.Store: the newest limit vouchers of one
// device and the count of all, for its RFC 8995 5.8 audit log.
func (s *Store) DeviceVouchers(ctx context.Context, serial string, limit int) ([]masa.VoucherRecord, int64, error) {
	var total int64
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM vouchers WHERE serial_number = $1`, serial).Scan(&total); err != nil {
		return nil, 0, classify("device vouchers", err)
	}
	vs, err := queryAll[masa.VoucherRecord](ctx, s.db, "device vouchers", `SELECT `+voucherCols+` FROM vouchers
		WHERE serial_number = $1 ORDER BY id DESC LIMIT $2`, serial, limit)
	if err != nil {
		return nil, 0, err
	}
	return vs, total, nil
}
