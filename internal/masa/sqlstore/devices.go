package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/sqldb"
)

// deviceCols select a masa.Device by position.
const deviceCols = `d.serial_number, d.product, d.idevid, COALESCE(d.owner_id, 0), d.status, d.created_at, d.updated_at`

// DeviceRecord implements masa.Store: one query joins the owner and both
// policy scopes, the device's scope winning over the product's.
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
	d := &rec.Device
	err := s.db.QueryRow(ctx, `SELECT `+deviceCols+`,
			o.name, o.ca_cert, o.ca_sha256, o.domain_id, o.created_at,
			dp.nonceless_allowed, dp.max_lifetime_seconds, dp.trust_on_first_use,
			pp.nonceless_allowed, pp.max_lifetime_seconds, pp.trust_on_first_use
		FROM devices d
		LEFT JOIN owners o ON o.id = d.owner_id
		LEFT JOIN policies dp ON dp.scope = 'device' AND dp.subject = d.serial_number
		LEFT JOIN policies pp ON pp.scope = 'product' AND pp.subject = d.product
		WHERE d.serial_number = $1`, serial).Scan(
		&d.SerialNumber, &d.Product, &d.IDevID, &d.OwnerID, &d.Status, &d.CreatedAt, &d.UpdatedAt,
		&oName, &oCert, &oSHA, &oDomain, &oCreated,
		&dpNonceless, &dpLifetime, &dpTOFU, &ppNonceless, &ppLifetime, &ppTOFU)
	if err != nil {
		return rec, classify("device record", notFound(err))
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
	err := s.inTx(ctx, "import devices", func(tx pgx.Tx) error {
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
			return duplicate(err)
		}
		return insertEvent(ctx, tx, ev)
	})
	return err
}

// ExistingSerials implements masa.Store.
func (s *Store) ExistingSerials(ctx context.Context, serials []string) (map[string]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT serial_number FROM devices WHERE `+inList(s.db, "serial_number", 1), serials)
	if err != nil {
		return nil, classify("existing serials", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, classify("existing serials", err)
	}
	m := make(map[string]bool, len(found))
	for _, s := range found {
		m[s] = true
	}
	return m, nil
}

// ListDevices implements masa.Store, paged by serial number.
func (s *Store) ListDevices(ctx context.Context, f masa.DeviceFilter) ([]masa.Device, error) {
	return queryAll[masa.Device](ctx, s.db, "list devices", `SELECT `+deviceCols+` FROM devices d
		WHERE ($1 = '' OR d.serial_number = $1)
		  AND ($2 = 0 OR d.owner_id = $2)
		  AND ($3 = '' OR ($3 IN ('active', 'disabled') AND d.status = $3)
		       OR ($3 = 'owned' AND d.owner_id IS NOT NULL) OR ($3 = 'unowned' AND d.owner_id IS NULL))
		  AND ($4 = '' OR d.product = $4)
		  AND d.serial_number > $5
		ORDER BY d.serial_number LIMIT $6`,
		f.SerialNumber, f.OwnerID, f.Status, f.Product, f.After, f.Limit)
}

// selectionWhere returns the WHERE clause and argument for a selection in
// db's dialect, using placeholders from $n on.
func selectionWhere(db sqldb.DB, sel masa.Selection, n int) (string, []any) {
	if len(sel.SerialNumbers) > 0 {
		return inList(db, "serial_number", n), []any{sel.SerialNumbers}
	}
	return fmt.Sprintf("serial_number BETWEEN $%d AND $%d", n, n+1), []any{sel.From, sel.To}
}

// checkListed fails with ErrNotFound when a listed serial is unknown.
func checkListed(ctx context.Context, db sqldb.DB, tx pgx.Tx, sel masa.Selection) error {
	if len(sel.SerialNumbers) == 0 {
		return nil
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM devices WHERE `+inList(db, "serial_number", 1), sel.SerialNumbers).Scan(&n); err != nil {
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
	err := s.inTx(ctx, "set device status", func(tx pgx.Tx) error {
		if err := checkListed(ctx, s.db, tx, sel); err != nil {
			return err
		}
		where, args := selectionWhere(s.db, sel, 3)
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
