package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Certificate is a certificate issued to a pledge through EST (RFC 7030;
// RFC 8995 5.9).
type Certificate struct {
	Serial    string    `json:"serial"` // the certificate's serial number, hex
	PledgeID  int64     `json:"pledge_id"`
	Operation string    `json:"operation"` // "simpleenroll", "simplereenroll", ...
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	DER       []byte    `json:"der"`
	CreatedAt time.Time `json:"created_at"`
}

// CertificateFilter pages through all certificates.
type CertificateFilter struct {
	Limit  int
	Cursor string
}

const certificateColumns = `serial, pledge_id, operation, subject, not_before, not_after, der, created_at`

// RecordCertificate stores c. It is idempotent on the serial: recording a
// serial again (a retried enrollment) keeps the first row.
func (s *Store) RecordCertificate(ctx context.Context, c Certificate) error {
	if c.Serial == "" || len(c.DER) == 0 || c.Operation == "" {
		return invalidf("a certificate needs its serial, operation and DER")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO certificates (`+certificateColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (serial) DO NOTHING`,
		c.Serial, c.PledgeID, c.Operation, c.Subject, c.NotBefore, c.NotAfter, c.DER, s.clock())
	if pgCode(err) == codeForeignKeyViolation {
		return notFound("pledge", c.PledgeID)
	}
	return classify("record certificate", err)
}

// RecordEnrollment stores c and marks its pledge enrolled, in one
// transaction: a certificate is on record exactly when its pledge's state
// says so, whatever fails in between (RFC 8995 5.9.3). Like
// RecordCertificate it is idempotent on the serial.
func (s *Store) RecordEnrollment(ctx context.Context, c Certificate) error {
	if c.Serial == "" || len(c.DER) == 0 || c.Operation == "" {
		return invalidf("a certificate needs its serial, operation and DER")
	}
	if s.onPostgreSQL() {
		return s.recordEnrollmentOne(ctx, c)
	}
	err := s.inTx(ctx, "record enrollment", func(tx pgx.Tx) error {
		now := s.clock()
		if _, err := tx.Exec(ctx, `INSERT INTO certificates (`+certificateColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (serial) DO NOTHING`,
			c.Serial, c.PledgeID, c.Operation, c.Subject, c.NotBefore, c.NotAfter, c.DER, now); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE pledges SET state = $2, updated_at = $3 WHERE id = $1`,
			c.PledgeID, string(StateEnrolled), now)
		if err == nil && tag.RowsAffected() == 0 {
			return notFound("pledge", c.PledgeID)
		}
		return err
	})
	if pgCode(err) == codeForeignKeyViolation {
		return notFound("pledge", c.PledgeID)
	}
	return err
}

// recordEnrollmentOne is RecordEnrollment on PostgreSQL in one statement:
// the pledge's move to enrolled and the certificate's INSERT (reading the
// moved row, so an unknown pledge inserts nothing) commit together.
func (s *Store) recordEnrollmentOne(ctx context.Context, c Certificate) error {
	var moved int
	err := s.db.QueryRow(ctx, `WITH moved AS (
			UPDATE pledges SET state = $9, updated_at = $8 WHERE id = $2 RETURNING id),
		ins AS (INSERT INTO certificates (`+certificateColumns+`)
			SELECT $1, id, $3, $4, $5, $6, $7, $8 FROM moved ON CONFLICT (serial) DO NOTHING)
		SELECT count(*) FROM moved`,
		c.Serial, c.PledgeID, c.Operation, c.Subject, c.NotBefore, c.NotAfter, c.DER, s.clock(), string(StateEnrolled)).Scan(&moved)
	if err != nil {
		return classify("record enrollment", err)
	}
	if moved == 0 {
		return notFound("pledge", c.PledgeID)
	}
	return nil
}

// ListCertificates returns pledgeID's certificates, oldest first.
func (s *Store) ListCertificates(ctx context.Context, pledgeID int64) ([]Certificate, error) {
	rows, err := s.db.Query(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE pledge_id = $1 ORDER BY created_at, serial`, pledgeID)
	if err != nil {
		return nil, classify("list certificates", err)
	}
	cs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Certificate])
	if err != nil {
		return nil, classify("list certificates", err)
	}
	if cs == nil {
		cs = []Certificate{}
	}
	return cs, nil
}

// AllCertificates returns every pledge's certificates, oldest first.
func (s *Store) AllCertificates(ctx context.Context, f CertificateFilter) (Page[Certificate], error) {
	limit, err := limitOf(f.Limit)
	if err != nil {
		return Page[Certificate]{}, err
	}
	var at time.Time
	var serial string
	hasCursor, err := decodeCursor(f.Cursor, &at, &serial)
	if err != nil {
		return Page[Certificate]{}, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+certificateColumns+` FROM certificates
		WHERE NOT $1 OR (created_at, serial) > ($2, $3)
		ORDER BY created_at, serial LIMIT $4`, hasCursor, at, serial, limit+1)
	if err != nil {
		return Page[Certificate]{}, classify("all certificates", err)
	}
	cs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Certificate])
	if err != nil {
		return Page[Certificate]{}, classify("all certificates", err)
	}
	return pageOf(cs, limit, func(c Certificate) string { return encodeCursor(c.CreatedAt, c.Serial) }), nil
}

// PledgeOfCertificate returns the pledge a certificate was issued to, by
// its serial (hex) and DER; ErrNotFound when this registrar did not issue
// it (RFC 7030 4.2.2: re-enrollment renews a certificate of this CA).
func (s *Store) PledgeOfCertificate(ctx context.Context, serial string, der []byte) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT pledge_id FROM certificates WHERE serial = $1 AND der = $2`, serial, der).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound("certificate", serial)
	}
	if err != nil {
		return 0, classify("pledge of certificate", err)
	}
	return id, nil
}
