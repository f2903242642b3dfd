package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/sqldb"
)

// AllowEntry is one device the owner expects: with an allow-list
// approval policy, a pledge whose manufacturer and serial are listed is
// approved without an operator.
type AllowEntry struct {
	ManufacturerID int64     `json:"manufacturer_id"`
	Manufacturer   string    `json:"manufacturer"` // name
	Serial         string    `json:"serial"`
	Note           string    `json:"note"`
	CreatedAt      time.Time `json:"created_at"`
}

// AllowFilter selects allow-list entries; a zero ManufacturerID selects all.
type AllowFilter struct {
	ManufacturerID int64
	Limit          int
	Cursor         string
}

// ImportResult says what an import did.
type ImportResult struct {
	Added   int `json:"added"`   // new entries
	Updated int `json:"updated"` // entries already listed; their note was replaced
}

// ImportAllowlist adds rows (from ParseAllowlistCSV or ParseAllowlistJSON)
// to the allow-list. Every row is checked first: an unknown manufacturer,
// an empty or overlong serial or note, or a manufacturer and serial
// repeated within the import rejects the row. If any row is rejected,
// nothing is written and the *ImportError lists every rejected row.
// Entries that are already listed keep their place and take the new note,
// so re-importing a file is harmless.
func (s *Store) ImportAllowlist(ctx context.Context, rows []ImportRow, actor string) (ImportResult, error) {
	var res ImportResult
	if len(rows) == 0 {
		return res, invalidf("the import has no entries")
	}
	if len(rows) > MaxImportRows {
		return res, invalidf("the import has %d entries; at most %d are allowed", len(rows), MaxImportRows)
	}
	err := s.inTx(ctx, "import allow-list", func(tx pgx.Tx) error {
		ids := map[string]int64{}
		rs, err := tx.Query(ctx, `SELECT name, id FROM manufacturers`)
		if err != nil {
			return err
		}
		var name string
		var id int64
		if _, err := pgx.ForEachRow(rs, []any{&name, &id}, func() error { ids[name] = id; return nil }); err != nil {
			return err
		}

		var bad []RowError
		seen := map[string]int{}
		mids := make([]int64, len(rows))
		serials := make([]string, len(rows))
		notes := make([]string, len(rows))
		for i, r := range rows {
			reason := r.problem()
			mid, known := ids[r.Manufacturer]
			if reason == "" && !known {
				reason = fmt.Sprintf("unknown manufacturer %q", r.Manufacturer)
			}
			key := r.Manufacturer + "\x00" + r.Serial
			if prev, dup := seen[key]; reason == "" && dup {
				reason = fmt.Sprintf("duplicate of line %d", prev)
			}
			if reason != "" {
				bad = append(bad, RowError{Line: r.Line, Reason: reason})
				continue
			}
			seen[key] = r.Line
			mids[i], serials[i], notes[i] = mid, r.Serial, r.Note
		}
		if len(bad) > 0 {
			return &ImportError{Rows: bad}
		}
		if sqldb.DialectOf(s.db) == sqldb.SQLite {
			res.Added, res.Updated, err = upsertAllowlistSQLite(ctx, tx, mids, serials, notes, s.clock())
		} else {
			res.Added, res.Updated, err = upsertAllowlistPostgres(ctx, tx, mids, serials, notes, s.clock())
		}
		if err != nil {
			return err
		}
		return s.appendTx(ctx, tx, Event{Actor: actor, Action: "allowlist.import",
			Detail: map[string]any{"added": res.Added, "updated": res.Updated}})
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// upsertAllowlistPostgres inserts or updates every entry in one statement;
// xmax = 0 tells a fresh insert from an updated row.
func upsertAllowlistPostgres(ctx context.Context, tx pgx.Tx, mids []int64, serials, notes []string, now time.Time) (added, updated int, err error) {
	err = tx.QueryRow(ctx, `WITH up AS (
				INSERT INTO allowlist (manufacturer_id, serial, note, created_at)
				SELECT m, s, n, $4 FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(m, s, n)
				ON CONFLICT (manufacturer_id, serial) DO UPDATE SET note = EXCLUDED.note
				RETURNING xmax = 0 AS inserted)
			SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up`,
		mids, serials, notes, now).Scan(&added, &updated)
	return added, updated, err
}

// upsertAllowlistSQLite counts the entries already present, then inserts
// or updates them all; the transaction holds the write lock throughout.
func upsertAllowlistSQLite(ctx context.Context, tx pgx.Tx, mids []int64, serials, notes []string, now time.Time) (added, updated int, err error) {
	const entries = `SELECT m.value AS m, s.value AS s, n.value AS n FROM json_each($1) m
		JOIN json_each($2) s ON s.key = m.key JOIN json_each($3) n ON n.key = m.key`
	err = tx.QueryRow(ctx, `SELECT count(*) FROM allowlist a JOIN (`+entries+`) u
		ON a.manufacturer_id = u.m AND a.serial = u.s`, mids, serials, notes).Scan(&updated)
	if err != nil {
		return 0, 0, err
	}
	// "WHERE true" keeps SQLite from reading ON CONFLICT as a join's ON.
	_, err = tx.Exec(ctx, `INSERT INTO allowlist (manufacturer_id, serial, note, created_at)
		SELECT u.m, u.s, u.n, $4 FROM (`+entries+`) u WHERE true
		ON CONFLICT (manufacturer_id, serial) DO UPDATE SET note = excluded.note`, mids, serials, notes, now)
	return len(mids) - updated, updated, err
}

// ListAllowlist returns allow-list entries ordered by manufacturer id and
// serial.
func (s *Store) ListAllowlist(ctx context.Context, f AllowFilter) (Page[AllowEntry], error) {
	limit, err := limitOf(f.Limit)
	if err != nil {
		return Page[AllowEntry]{}, err
	}
	var afterM int64
	var afterS string
	hasCursor, err := decodeCursor(f.Cursor, &afterM, &afterS)
	if err != nil {
		return Page[AllowEntry]{}, err
	}
	rows, err := s.db.Query(ctx, `SELECT a.manufacturer_id, m.name, a.serial, a.note, a.created_at
		FROM allowlist a JOIN manufacturers m ON m.id = a.manufacturer_id
		WHERE ($1 = 0 OR a.manufacturer_id = $1) AND (NOT $2 OR (a.manufacturer_id, a.serial) > ($3, $4))
		ORDER BY a.manufacturer_id, a.serial LIMIT $5`,
		f.ManufacturerID, hasCursor, afterM, afterS, limit+1)
	if err != nil {
		return Page[AllowEntry]{}, classify("list allow-list", err)
	}
	es, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AllowEntry])
	if err != nil {
		return Page[AllowEntry]{}, classify("list allow-list", err)
	}
	return pageOf(es, limit, func(e AllowEntry) string { return encodeCursor(e.ManufacturerID, e.Serial) }), nil
}

// DeleteAllowlistEntry removes one entry.
func (s *Store) DeleteAllowlistEntry(ctx context.Context, manufacturerID int64, serial, actor string) error {
	return s.inTx(ctx, "delete allow-list entry", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM allowlist WHERE manufacturer_id = $1 AND serial = $2`, manufacturerID, serial)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("allow-list entry", fmt.Sprintf("%d/%s", manufacturerID, serial))
		}
		return s.appendTx(ctx, tx, Event{Actor: actor, Action: "allowlist.delete",
			Subject: manufacturerSubject(manufacturerID), Detail: map[string]any{"serial": serial}})
	})
}

// Allowed reports whether the allow-list holds manufacturerID's serial.
func (s *Store) Allowed(ctx context.Context, manufacturerID int64, serial string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM allowlist WHERE manufacturer_id = $1 AND serial = $2)`,
		manufacturerID, serial).Scan(&ok)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, classify("allowed", err)
	}
	return ok, nil
}
