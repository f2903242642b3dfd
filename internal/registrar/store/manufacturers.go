package store

import (
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/pkg/enroll"
)

// Serial fields: which subject attribute of an IDevID holds the pledge's
// serial number (RFC 8995 2.3.1 allows serialNumber; some manufacturers
// put it in hardwareModuleName or commonName).
const (
	SerialFieldSerialNumber       = "serialNumber"
	SerialFieldHardwareModuleName = "hardwareModuleName"
	SerialFieldCommonName         = "commonName"
)

// Manufacturer is a manufacturer the registrar trusts: IDevIDs chaining to
// IDevIDAnchor are its pledges; MASAURL, when set, overrides the IDevID's
// MASA URL extension (RFC 8995 2.3.2); MASAAnchor, when set, is the only
// anchor the MASA's TLS certificate may chain to.
type Manufacturer struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	IDevIDAnchor []byte `json:"idevid_anchor"`         // DER certificate
	MASAURL      string `json:"masa_url,omitempty"`    // empty: from the IDevID
	MASAAnchor   []byte `json:"masa_anchor,omitempty"` // DER certificate; nil: system roots
	SerialField  string `json:"serial_field"`
	// LDevIDDNSTemplate and LDevIDURITemplate, when set, derive a DNS name
	// and a URI subjectAltName of the pledges' domain certificates from
	// their serial number (enroll.ParseNameTemplate, e.g.
	// "{{.SerialNumber}}.devices.example.net", "urn:dev:serial:{{.SerialNumber}}").
	// Empty: no such name; the subject always carries the serial.
	LDevIDDNSTemplate string    `json:"ldevid_dns_template,omitempty"`
	LDevIDURITemplate string    `json:"ldevid_uri_template,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
}

// Anchor is a manufacturer with its certificates parsed, for matching a
// pledge's IDevID (RFC 8995 5.5).
type Anchor struct {
	Manufacturer
	IDevID *x509.Certificate
	MASA   *x509.Certificate // nil: system roots
	// NameTemplates are the compiled LDevID name templates, DNS first.
	NameTemplates []*enroll.NameTemplate
}

const manufacturerColumns = `id, name, idevid_anchor, coalesce(masa_url, ''), masa_anchor, serial_field,
	coalesce(ldevid_dns_template, ''), coalesce(ldevid_uri_template, ''), created_at`

func scanManufacturer(row pgx.Row) (Manufacturer, error) {
	var m Manufacturer
	err := row.Scan(&m.ID, &m.Name, &m.IDevIDAnchor, &m.MASAURL, &m.MASAAnchor, &m.SerialField,
		&m.LDevIDDNSTemplate, &m.LDevIDURITemplate, &m.CreatedAt)
	return m, err
}

// maxNameTemplate bounds a stored LDevID name template (the column checks
// the same).
const maxNameTemplate = 500

// NameTemplates compiles m's LDevID name templates, DNS first. Each must
// render a valid name of its kind that depends on the serial number
// (enroll.ParseNameTemplate renders it with sample serials).
func (m *Manufacturer) NameTemplates() ([]*enroll.NameTemplate, error) {
	var out []*enroll.NameTemplate
	for _, t := range []struct {
		field, text string
		kind        enroll.NameKind
	}{{"ldevid_dns_template", m.LDevIDDNSTemplate, enroll.NameDNS}, {"ldevid_uri_template", m.LDevIDURITemplate, enroll.NameURI}} {
		if t.text == "" {
			continue
		}
		if len(t.text) > maxNameTemplate {
			return nil, invalidf("%s is longer than %d characters", t.field, maxNameTemplate)
		}
		nt, err := enroll.ParseNameTemplate(t.kind, t.text)
		if err != nil {
			return nil, invalidf("%s: %v", t.field, err)
		}
		out = append(out, nt)
	}
	return out, nil
}

// validate checks m's fields and fills the default serial field.
func (m *Manufacturer) validate() error {
	if n := len([]rune(m.Name)); n < 1 || n > 200 {
		return invalidf("manufacturer name must be 1 to 200 characters")
	}
	if _, err := x509.ParseCertificate(m.IDevIDAnchor); err != nil {
		return invalidf("idevid_anchor is not a DER X.509 certificate: %v", err)
	}
	if len(m.MASAAnchor) == 0 {
		m.MASAAnchor = nil
	} else if _, err := x509.ParseCertificate(m.MASAAnchor); err != nil {
		return invalidf("masa_anchor is not a DER X.509 certificate: %v", err)
	}
	if m.MASAURL != "" {
		u, err := url.Parse(m.MASAURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return invalidf("masa_url must be an absolute https URL")
		}
	}
	switch m.SerialField {
	case "":
		m.SerialField = SerialFieldSerialNumber
	case SerialFieldSerialNumber, SerialFieldHardwareModuleName, SerialFieldCommonName:
	default:
		return invalidf("serial_field must be serialNumber, hardwareModuleName or commonName")
	}
	_, err := m.NameTemplates()
	return err
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreateManufacturer records a trusted manufacturer (ID and CreatedAt of m
// are ignored) and returns it as stored. A taken name is ErrConflict.
func (s *Store) CreateManufacturer(ctx context.Context, m Manufacturer, actor string) (*Manufacturer, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	var out Manufacturer
	err := s.inTx(ctx, "create manufacturer", func(tx pgx.Tx) error {
		var err error
		out, err = scanManufacturer(tx.QueryRow(ctx, `INSERT INTO manufacturers
				(name, idevid_anchor, masa_url, masa_anchor, serial_field, ldevid_dns_template, ldevid_uri_template, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+manufacturerColumns,
			m.Name, m.IDevIDAnchor, nullIfEmpty(m.MASAURL), m.MASAAnchor, m.SerialField,
			nullIfEmpty(m.LDevIDDNSTemplate), nullIfEmpty(m.LDevIDURITemplate), s.clock()))
		if pgCode(err) == codeUniqueViolation {
			return conflictf("manufacturer %q already exists", m.Name)
		}
		if err != nil {
			return err
		}
		return s.appendTx(ctx, tx, Event{Actor: actor, Action: "manufacturer.create",
			Subject: manufacturerSubject(out.ID), Detail: map[string]any{"name": out.Name}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateManufacturer replaces the name, anchors, MASA URL, serial field and
// LDevID name templates of manufacturer m.ID.
func (s *Store) UpdateManufacturer(ctx context.Context, m Manufacturer, actor string) (*Manufacturer, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	var out Manufacturer
	err := s.inTx(ctx, "update manufacturer", func(tx pgx.Tx) error {
		var err error
		out, err = scanManufacturer(tx.QueryRow(ctx, `UPDATE manufacturers SET name = $2, idevid_anchor = $3,
				masa_url = $4, masa_anchor = $5, serial_field = $6, ldevid_dns_template = $7, ldevid_uri_template = $8
			WHERE id = $1 RETURNING `+manufacturerColumns,
			m.ID, m.Name, m.IDevIDAnchor, nullIfEmpty(m.MASAURL), m.MASAAnchor, m.SerialField,
			nullIfEmpty(m.LDevIDDNSTemplate), nullIfEmpty(m.LDevIDURITemplate)))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return notFound("manufacturer", m.ID)
		case pgCode(err) == codeUniqueViolation:
			return conflictf("manufacturer %q already exists", m.Name)
		case err != nil:
			return err
		}
		return s.appendTx(ctx, tx, Event{Actor: actor, Action: "manufacturer.update",
			Subject: manufacturerSubject(out.ID), Detail: map[string]any{"name": out.Name}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetManufacturer returns manufacturer id.
func (s *Store) GetManufacturer(ctx context.Context, id int64) (*Manufacturer, error) {
	m, err := scanManufacturer(s.db.QueryRow(ctx, `SELECT `+manufacturerColumns+` FROM manufacturers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("manufacturer", id)
	}
	if err != nil {
		return nil, classify("get manufacturer", err)
	}
	return &m, nil
}

// ListManufacturers returns every manufacturer, by name. Deployments
// trust a handful, so the list is not paged.
func (s *Store) ListManufacturers(ctx context.Context) ([]Manufacturer, error) {
	rows, err := s.db.Query(ctx, `SELECT `+manufacturerColumns+` FROM manufacturers ORDER BY name`)
	if err != nil {
		return nil, classify("list manufacturers", err)
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Manufacturer, error) { return scanManufacturer(r) })
	if err != nil {
		return nil, classify("list manufacturers", err)
	}
	if ms == nil {
		ms = []Manufacturer{}
	}
	return ms, nil
}

// DeleteManufacturer removes manufacturer id and its allow-list entries.
// While pledges reference it the answer is ErrConflict: their history
// (exchanges, certificates) must not vanish with it.
func (s *Store) DeleteManufacturer(ctx context.Context, id int64, actor string) error {
	return s.inTx(ctx, "delete manufacturer", func(tx pgx.Tx) error {
		var name string
		err := tx.QueryRow(ctx, `DELETE FROM manufacturers WHERE id = $1 RETURNING name`, id).Scan(&name)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return notFound("manufacturer", id)
		case pgCode(err) == codeForeignKeyViolation:
			return conflictf("manufacturer %d has pledges; it cannot be deleted", id)
		case err != nil:
			return err
		}
		return s.appendTx(ctx, tx, Event{Actor: actor, Action: "manufacturer.delete",
			Subject: manufacturerSubject(id), Detail: map[string]any{"name": name}})
	})
}

// Anchors returns every manufacturer with its anchors parsed, for the
// BRSKI flow to find which one a pledge's IDevID chains to.
func (s *Store) Anchors(ctx context.Context) ([]Anchor, error) {
	ms, err := s.ListManufacturers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Anchor, 0, len(ms))
	for _, m := range ms {
		a := Anchor{Manufacturer: m}
		if a.IDevID, err = x509.ParseCertificate(m.IDevIDAnchor); err != nil {
			return nil, wrapf("anchors", err)
		}
		if m.MASAAnchor != nil {
			if a.MASA, err = x509.ParseCertificate(m.MASAAnchor); err != nil {
				return nil, wrapf("anchors", err)
			}
		}
		if a.NameTemplates, err = m.NameTemplates(); err != nil {
			return nil, wrapf("anchors", err)
		}
		out = append(out, a)
	}
	return out, nil
}

func manufacturerSubject(id int64) string { return "manufacturer:" + strconv.FormatInt(id, 10) }
