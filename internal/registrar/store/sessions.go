package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5"
)

// Context is a live ATLS key-export context (ATLS profile, DESIGN
// decision 2) as operators see it: never its sealed secrets.
type Context struct {
	RecipientID string    `json:"recipient_id"` // hex
	Protocol    string    `json:"protocol"`     // "atls-oscore" or "atls-cose"
	Suite       string    `json:"suite"`        // the TLS 1.3 cipher suite of the handshake
	PeerSubject string    `json:"peer_subject,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// Replica is one row of the replica registry (internal/registrar/replica).
type Replica struct {
	ID          string    `json:"id"`
	InternalURL string    `json:"internal_url"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
}

// Contexts returns the ATLS contexts that have not expired, by recipient
// id. The peer subject is that of the first certificate of the peer's
// chain (the pledge's IDevID or LDevID). limit 0 means DefaultLimit;
// cursor is the Next of the previous page.
func (s *Store) Contexts(ctx context.Context, limit int, cursor string) (Page[Context], error) {
	limit, err := limitOf(limit)
	if err != nil {
		return Page[Context]{}, err
	}
	var afterHex string
	hasCursor, err := decodeCursor(cursor, &afterHex)
	if err != nil {
		return Page[Context]{}, err
	}
	after, err := hex.DecodeString(afterHex)
	if err != nil {
		return Page[Context]{}, invalidf("malformed cursor")
	}
	// Only the columns shown are read: secret_sealed never leaves the database.
	rows, err := s.db.Query(ctx, `SELECT recipient_id, protocol, tls_suite, peer_chain, created_at, expires_at
		FROM atls_contexts WHERE expires_at > $1 AND (NOT $2 OR recipient_id > $3)
		ORDER BY recipient_id LIMIT $4`, s.clock(), hasCursor, after, limit+1)
	if err != nil {
		return Page[Context]{}, classify("list contexts", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Context, error) {
		var c Context
		var rid []byte
		var chain [][]byte
		var suite int
		if err := r.Scan(&rid, &c.Protocol, &suite, &chain, &c.CreatedAt, &c.ExpiresAt); err != nil {
			return c, err
		}
		c.RecipientID = hex.EncodeToString(rid)
		c.Suite = tls.CipherSuiteName(uint16(suite))
		if len(chain) > 0 {
			if cert, err := x509.ParseCertificate(chain[0]); err == nil {
				c.PeerSubject = cert.Subject.String()
			}
		}
		return c, nil
	})
	if err != nil {
		return Page[Context]{}, classify("list contexts", err)
	}
	return pageOf(cs, limit, func(c Context) string { return encodeCursor(c.RecipientID) }), nil
}

// Replicas returns every registered replica, by id, stale ones included:
// a replica whose heartbeat stopped is what an operator looks for.
func (s *Store) Replicas(ctx context.Context) ([]Replica, error) {
	rows, err := s.db.Query(ctx, `SELECT id, internal_url, started_at, heartbeat_at FROM replicas ORDER BY id`)
	if err != nil {
		return nil, classify("list replicas", err)
	}
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Replica])
	if err != nil {
		return nil, classify("list replicas", err)
	}
	if rs == nil {
		rs = []Replica{}
	}
	return rs, nil
}
