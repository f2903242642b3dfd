package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// LatestVoucher is what the enrollment gate needs of a pledge's most
// recent voucher exchange (RFC 8995 5.9): how it ended and the IDevID
// that asked.
type LatestVoucher struct {
	Outcome      Outcome
	IDevIDSHA256 []byte
}

// Enrollee is what the enrollment gate reads of a pledge in one query.
type Enrollee struct {
	Pledge Pledge
	// Latest is the pledge's latest voucher exchange; nil when it has none.
	Latest *LatestVoucher
	// Certificates is how many certificates were issued to the pledge:
	// when none, a simpleenroll cannot be a repeat (ListCertificates is
	// not needed).
	Certificates int
}

// FindEnrollee returns the pledge with manufacturerID's serial, its latest
// voucher exchange's outcome and its count of certificates in one query:
// FindPledge and LatestExchange together, without the exchange's
// messages, for the enrollment gate.
func (s *Store) FindEnrollee(ctx context.Context, manufacturerID int64, serial string) (*Enrollee, error) {
	var en Enrollee
	p := &en.Pledge
	var outcome *string
	var sum []byte
	err := s.db.QueryRow(ctx, `SELECT p.id, p.manufacturer_id, p.serial, p.idevid, p.decision, coalesce(p.decided_by, ''),
			p.decided_at, p.state, p.created_at, p.updated_at, e.outcome, e.idevid_sha256,
			(SELECT count(*) FROM certificates c WHERE c.pledge_id = p.id)
		FROM pledges p LEFT JOIN voucher_exchanges e
			ON e.id = (SELECT max(id) FROM voucher_exchanges WHERE pledge_id = p.id)
		WHERE p.manufacturer_id = $1 AND p.serial = $2`, manufacturerID, serial).Scan(
		&p.ID, &p.ManufacturerID, &p.Serial, &p.IDevID, &p.Decision, &p.DecidedBy, &p.DecidedAt, &p.State, &p.CreatedAt, &p.UpdatedAt,
		&outcome, &sum, &en.Certificates)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("pledge", strconv.FormatInt(manufacturerID, 10)+"/"+serial)
	}
	if err != nil {
		return nil, classify("find enrollee", err)
	}
	if outcome != nil {
		en.Latest = &LatestVoucher{Outcome: Outcome(*outcome), IDevIDSHA256: sum}
	}
	return &en, nil
}
