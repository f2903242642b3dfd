package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/masa"
)

// Store is masa.Store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
}

var _ masa.Store = (*Store)(nil)

// Open connects a pool to dsn. It does not migrate; call Migrate first.
func Open(ctx context.Context, dsn string, maxConns int32) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return &Store{pool: pool}, nil
}

// New wraps an existing pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Pool exposes the pool, for tests that inspect tables.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return masa.ErrNotFound
	}
	return err
}

func insertEvent(ctx context.Context, tx pgx.Tx, ev masa.AuditEvent) error {
	if ev.Action == "" {
		return nil
	}
	detail := ev.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_events (at, actor, action, serial_number, detail)
		VALUES ($1, $2, $3, NULLIF($4, ''), $5)`, ev.At, ev.Actor, ev.Action, ev.SerialNumber, b)
	return err
}

const deviceCols = `d.serial_number, d.product, d.idevid, COALESCE(d.owner_id, 0), d.status, d.created_at, d.updated_at`

func scanDevice(row pgx.Row, d *masa.Device, extra ...any) error {
	return row.Scan(append([]any{&d.SerialNumber, &d.Product, &d.IDevID, &d.OwnerID, &d.Status, &d.CreatedAt, &d.UpdatedAt}, extra...)...)
}

// DeviceRecord implements masa.Store: one query joins the owner and both
// policy scopes.
func (s *Store) DeviceRecord(ctx context.Context, serial string) (masa.DeviceRecord, error) {
	var rec masa.DeviceRecord
	var (
		oName                                    *string
		oCert, oSHA                              []byte
		oDomain                                  *string
		oCreated                                 *time.Time
		dpNonceless, ppNonceless, dpTOFU, ppTOFU *bool
		dpLifetime, ppLifetime                   *int64
	)
	row := s.pool.QueryRow(ctx, `SELECT `+deviceCols+`,
			o.name, o.ca_cert, o.ca_sha256, o.domain_id, o.created_at,
			dp.nonceless_allowed, dp.max_lifetime_seconds, dp.trust_on_first_use,
			pp.nonceless_allowed, pp.max_lifetime_seconds, pp.trust_on_first_use
		FROM devices d
		LEFT JOIN owners o ON o.id = d.owner_id
		LEFT JOIN policies dp ON dp.scope = 'device' AND dp.subject = d.serial_number
		LEFT JOIN policies pp ON pp.scope = 'product' AND pp.subject = d.product
		WHERE d.serial_number = $1`, serial)
	err := scanDevice(row, &rec.Device, &oName, &oCert, &oSHA, &oDomain, &oCreated,
		&dpNonceless, &dpLifetime, &dpTOFU, &ppNonceless, &ppLifetime, &ppTOFU)
	if err != nil {
		return rec, notFound(err)
	}
	if rec.OwnerID != 0 && oName != nil {
		rec.Owner = &masa.Owner{ID: rec.OwnerID, Name: *oName, CACert: oCert, CASHA256: oSHA, DomainID: *oDomain, CreatedAt: *oCreated}
	}
	switch {
	case dpNonceless != nil:
		rec.Policy = masa.Policy{NoncelessAllowed: *dpNonceless, MaxLifetime: time.Duration(*dpLifetime) * time.Second, TrustOnFirstUse: *dpTOFU}
	case ppNonceless != nil:
		rec.Policy = masa.Policy{NoncelessAllowed: *ppNonceless, MaxLifetime: time.Duration(*ppLifetime) * time.Second, TrustOnFirstUse: *ppTOFU}
	}
	return rec, nil
}

// RegisterDevice implements masa.Store.
func (s *Store) RegisterDevice(ctx context.Context, d masa.Device, ev masa.AuditEvent) error {
	return s.ImportDevices(ctx, []masa.Device{d}, ev)
}

// ImportDevices implements masa.Store with one COPY in one transaction.
func (s *Store) ImportDevices(ctx context.Context, ds []masa.Device, ev masa.AuditEvent) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"devices"},
			[]string{"serial_number", "product", "idevid", "owner_id", "status", "created_at", "updated_at"},
			pgx.CopyFromSlice(len(ds), func(i int) ([]any, error) {
				d := ds[i]
				var owner *int64
				if d.OwnerID != 0 {
					owner = &d.OwnerID
				}
				status := d.Status
				if status == "" {
					status = masa.DeviceActive
				}
				return []any{d.SerialNumber, d.Product, d.IDevID, owner, status, d.CreatedAt, d.UpdatedAt}, nil
			}))
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, ev)
	})
	if isUniqueViolation(err) {
		return masa.ErrDuplicate
	}
	return err
}

// ExistingSerials implements masa.Store.
func (s *Store) ExistingSerials(ctx context.Context, serials []string) (map[string]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT serial_number FROM devices WHERE serial_number = ANY($1)`, serials)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(found))
	for _, s := range found {
		m[s] = true
	}
	return m, nil
}

// ListDevices implements masa.Store, paged by serial number.
func (s *Store) ListDevices(ctx context.Context, f masa.DeviceFilter) ([]masa.Device, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deviceCols+` FROM devices d
		WHERE ($1 = '' OR d.serial_number = $1)
		  AND ($2 = 0 OR d.owner_id = $2)
		  AND ($3 = '' OR ($3 IN ('active', 'disabled') AND d.status = $3)
		       OR ($3 = 'owned' AND d.owner_id IS NOT NULL) OR ($3 = 'unowned' AND d.owner_id IS NULL))
		  AND ($4 = '' OR d.product = $4)
		  AND d.serial_number > $5
		ORDER BY d.serial_number LIMIT $6`,
		f.SerialNumber, f.OwnerID, f.Status, f.Product, f.After, f.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []masa.Device{}
	for rows.Next() {
		var d masa.Device
		if err := scanDevice(rows, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// selectionWhere returns the WHERE clause and argument for a selection,
// using placeholders from $n on.
func selectionWhere(sel masa.Selection, n int) (string, []any) {
	if len(sel.SerialNumbers) > 0 {
		return fmt.Sprintf("serial_number = ANY($%d)", n), []any{sel.SerialNumbers}
	}
	return fmt.Sprintf("serial_number BETWEEN $%d AND $%d", n, n+1), []any{sel.From, sel.To}
}

// checkListed fails with ErrNotFound when a listed serial is unknown.
func checkListed(ctx context.Context, tx pgx.Tx, sel masa.Selection) error {
	if len(sel.SerialNumbers) == 0 {
		return nil
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM devices WHERE serial_number = ANY($1)`, sel.SerialNumbers).Scan(&n); err != nil {
		return err
	}
	uniq := map[string]bool{}
	for _, s := range sel.SerialNumbers {
		uniq[s] = true
	}
	if n != len(uniq) {
		return masa.ErrNotFound
	}
	return nil
}

// SetDeviceStatus implements masa.Store.
func (s *Store) SetDeviceStatus(ctx context.Context, sel masa.Selection, status string, ev masa.AuditEvent) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkListed(ctx, tx, sel); err != nil {
			return err
		}
		where, args := selectionWhere(sel, 3)
		tag, err := tx.Exec(ctx, `UPDATE devices SET status = $1, updated_at = $2 WHERE `+where,
			append([]any{status, ev.At}, args...)...)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if ev.Detail == nil {
			ev.Detail = map[string]any{}
		}
		ev.Detail["changed"] = n
		return insertEvent(ctx, tx, ev)
	})
	return n, err
}

// CreateOwner implements masa.Store.
func (s *Store) CreateOwner(ctx context.Context, o masa.Owner, ev masa.AuditEvent) (masa.Owner, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
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

const ownerCols = `id, name, ca_cert, ca_sha256, domain_id, created_at`

func scanOwner(row pgx.Row) (masa.Owner, error) {
	var o masa.Owner
	err := row.Scan(&o.ID, &o.Name, &o.CACert, &o.CASHA256, &o.DomainID, &o.CreatedAt)
	return o, err
}

// Owner implements masa.Store.
func (s *Store) Owner(ctx context.Context, id int64) (masa.Owner, error) {
	o, err := scanOwner(s.pool.QueryRow(ctx, `SELECT `+ownerCols+` FROM owners WHERE id = $1`, id))
	return o, notFound(err)
}

// ListOwners implements masa.Store.
func (s *Store) ListOwners(ctx context.Context) ([]masa.Owner, error) {
	return queryOwners(ctx, s.pool, `SELECT `+ownerCols+` FROM owners ORDER BY id`)
}

// OwnersByAnchor implements masa.Store.
func (s *Store) OwnersByAnchor(ctx context.Context, sha256s [][]byte, domainIDs []string) ([]masa.Owner, error) {
	return queryOwners(ctx, s.pool, `SELECT `+ownerCols+` FROM owners
		WHERE ca_sha256 = ANY($1) OR domain_id = ANY($2) ORDER BY id LIMIT 64`, sha256s, domainIDs)
}

func queryOwners(ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) ([]masa.Owner, error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []masa.Owner{}
	for rows.Next() {
		o, err := scanOwner(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// AssignOwner implements masa.Store.
func (s *Store) AssignOwner(ctx context.Context, sel masa.Selection, ownerID int64, ev masa.AuditEvent) ([]string, error) {
	var changed []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := checkListed(ctx, tx, sel); err != nil {
			return err
		}
		var owner *int64
		if ownerID != 0 {
			owner = &ownerID
		}
		where, args := selectionWhere(sel, 3)
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

// SetPolicy implements masa.Store.
func (s *Store) SetPolicy(ctx context.Context, scope, subject string, p masa.Policy, ev masa.AuditEvent) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
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
	return s.inTx(ctx, func(tx pgx.Tx) error {
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

const voucherCols = `id, serial_number, owner_id, domain_id, request_sha256, nonce, assertion, expires_on,
	registrar_subject, voucher, issued_at`

func scanVoucher(row pgx.Row) (masa.VoucherRecord, error) {
	var v masa.VoucherRecord
	err := row.Scan(&v.ID, &v.SerialNumber, &v.OwnerID, &v.DomainID, &v.RequestSHA256, &v.Nonce, &v.Assertion,
		&v.ExpiresOn, &v.RegistrarSubject, &v.Voucher, &v.IssuedAt)
	return v, err
}

// VoucherByRequest implements masa.Store.
func (s *Store) VoucherByRequest(ctx context.Context, sha []byte) (masa.VoucherRecord, error) {
	v, err := scanVoucher(s.pool.QueryRow(ctx, `SELECT `+voucherCols+` FROM vouchers WHERE request_sha256 = $1`, sha))
	return v, notFound(err)
}

// RecordVoucher implements masa.Store.
func (s *Store) RecordVoucher(ctx context.Context, v masa.VoucherRecord, claim *masa.Owner) (masa.VoucherRecord, error) {
	insert := func(ctx context.Context, q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) error {
		return q.QueryRow(ctx, `INSERT INTO vouchers (serial_number, owner_id, domain_id, request_sha256, nonce,
				assertion, expires_on, registrar_subject, voucher, issued_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			v.SerialNumber, v.OwnerID, v.DomainID, v.RequestSHA256, v.Nonce, v.Assertion, v.ExpiresOn,
			v.RegistrarSubject, v.Voucher, v.IssuedAt).Scan(&v.ID)
	}
	var err error
	if claim == nil {
		// The hot path: one statement, no explicit transaction.
		err = insert(ctx, s.pool)
	} else {
		err = s.inTx(ctx, func(tx pgx.Tx) error {
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
	}
	if isUniqueViolation(err) {
		return v, masa.ErrDuplicate
	}
	return v, err
}

// ListVouchers implements masa.Store, paged by id.
func (s *Store) ListVouchers(ctx context.Context, f masa.VoucherFilter) ([]masa.VoucherRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+voucherCols+` FROM vouchers
		WHERE ($1 = '' OR serial_number = $1) AND ($2 = 0 OR owner_id = $2) AND id > $3
		ORDER BY id LIMIT $4`, f.SerialNumber, f.OwnerID, f.After, f.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []masa.VoucherRecord{}
	for rows.Next() {
		v, err := scanVoucher(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeviceVouchers implements masa.Store.
func (s *Store) DeviceVouchers(ctx context.Context, serial string, limit int) ([]masa.VoucherRecord, int64, error) {
	var total int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM vouchers WHERE serial_number = $1`, serial).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+voucherCols+` FROM vouchers WHERE serial_number = $1
		ORDER BY id DESC LIMIT $2`, serial, limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []masa.VoucherRecord{}
	for rows.Next() {
		v, err := scanVoucher(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, v)
	}
	return out, total, rows.Err()
}

// ListEvents implements masa.Store, paged by id.
func (s *Store) ListEvents(ctx context.Context, f masa.EventFilter) ([]masa.AuditEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, action, COALESCE(serial_number, ''), detail FROM audit_events
		WHERE ($1 = '' OR serial_number = $1) AND id > $2 ORDER BY id LIMIT $3`, f.SerialNumber, f.After, f.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []masa.AuditEvent{}
	for rows.Next() {
		var e masa.AuditEvent
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.SerialNumber, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CreateToken implements masa.Store.
func (s *Store) CreateToken(ctx context.Context, t masa.Token) (masa.Token, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO tokens (name, role, secret_sha256, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			t.Name, string(t.Role), t.SHA256, t.CreatedAt).Scan(&t.ID)
		if err != nil {
			return err
		}
		return insertEvent(ctx, tx, masa.AuditEvent{At: t.CreatedAt, Actor: "cli", Action: "token.create",
			Detail: map[string]any{"token-id": t.ID, "name": t.Name, "role": t.Role}})
	})
	if isUniqueViolation(err) {
		return t, masa.ErrDuplicate
	}
	return t, err
}

const tokenCols = `id, name, role, secret_sha256, created_at, revoked_at`

func scanToken(row pgx.Row) (masa.Token, error) {
	var t masa.Token
	var role string
	err := row.Scan(&t.ID, &t.Name, &role, &t.SHA256, &t.CreatedAt, &t.RevokedAt)
	t.Role = masa.Role(role)
	return t, err
}

// TokenBySecret implements masa.Store.
func (s *Store) TokenBySecret(ctx context.Context, sha []byte) (masa.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE secret_sha256 = $1 AND revoked_at IS NULL`, sha))
	return t, notFound(err)
}

// ListTokens implements masa.Store.
func (s *Store) ListTokens(ctx context.Context) ([]masa.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []masa.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements masa.Store.
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
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
