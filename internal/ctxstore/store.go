package ctxstore

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/pkg/atls"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("ctxstore: security context not found")
	ErrReplay   = errors.New("ctxstore: replay detected")
)

// WindowSize is the replay window of profile 4.5.
const WindowSize = 32

// cidReservation is how long a CID allocated for a handshake stays reserved
// before its context is stored; long enough for the Finished POST.
const cidReservation = 2 * time.Minute

// Store is the PostgreSQL context store.
type Store struct {
	pool    *pgxpool.Pool
	seal    cipher.AEAD
	replica string
	// CIDLen is the length of allocated CIDs (capped by the AEAD); default 4.
	CIDLen int
	Now    func() time.Time
}

// New returns a store on pool. key is the 32-byte context-sealing key all
// replicas share; replica names this replica in CID reservations.
func New(pool *pgxpool.Pool, key []byte, replica string) (*Store, error) {
	if len(key) != 32 {
		return nil, errors.New("ctxstore: the context key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool, seal: aead, replica: replica, CIDLen: 4, Now: time.Now}, nil
}

// Record is a stored context with its replay state.
type Record struct {
	*atls.ExportedContext
	// ReplayHigh is the highest Partial IV seen, -1 before the first.
	ReplayHigh int64
	// ReplayBitmap bit i is set when Partial IV ReplayHigh-i was seen.
	ReplayBitmap uint32
}

// Seen reports whether piv is a replay or too old for the window, the
// check profile 5.7 makes before decryption.
func (r *Record) Seen(piv uint64) bool {
	if int64(piv) > r.ReplayHigh {
		return false
	}
	d := r.ReplayHigh - int64(piv)
	return d >= WindowSize || r.ReplayBitmap&(1<<d) != 0
}

// AllocateCID implements atls.CIDAllocator: a random CID, reserved in
// the database so that no replica hands it out twice.
func (s *Store) AllocateCID(ctx context.Context, maxLen int) ([]byte, error) {
	n := min(s.CIDLen, maxLen)
	if n < 1 {
		return nil, errors.New("ctxstore: no room for a connection ID")
	}
	for range 16 {
		cid := make([]byte, n)
		if _, err := rand.Read(cid); err != nil {
			return nil, err
		}
		tag, err := s.pool.Exec(ctx, `INSERT INTO atls_cids (cid, replica, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (cid) DO NOTHING`, cid, s.replica, s.Now().Add(cidReservation))
		if err != nil {
			return nil, fmt.Errorf("ctxstore: allocate CID: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return cid, nil
		}
	}
	return nil, fmt.Errorf("ctxstore: %d-byte connection-ID space is crowded", n)
}

// ReleaseCID implements atls.CIDAllocator; it deletes the CID's context too.
func (s *Store) ReleaseCID(ctx context.Context, cid []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM atls_cids WHERE cid = $1`, cid)
	return err
}

// StoreContext implements atls.ContextSink.
func (s *Store) StoreContext(ctx context.Context, ec *atls.ExportedContext) error {
	secret := append(append([]byte{}, ec.MasterSecret...), ec.MasterSalt...)
	nonce := make([]byte, s.seal.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := s.seal.Seal(nonce, nonce, secret, ec.RecipientID)
	chain := make([][]byte, len(ec.PeerCertificates))
	for i, c := range ec.PeerCertificates {
		chain[i] = c.Raw
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE atls_cids SET expires_at = $2 WHERE cid = $1`, ec.RecipientID, ec.ExpiresAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("ctxstore: CID %x is not reserved", ec.RecipientID)
		}
		_, err = tx.Exec(ctx, `INSERT INTO atls_contexts (recipient_id, sender_id, protocol, tls_suite, aead, hkdf,
				secret_sealed, peer_chain, local_cert, channel_binding, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			ec.RecipientID, ec.SenderID, ec.Protocol, int(ec.Suite.Suite), ec.Suite.AEAD, hashName(ec.Suite.Hash),
			sealed, chain, ec.LocalCertificate, ec.ChannelBinding, ec.CreatedAt, ec.ExpiresAt)
		return err
	})
}

// DeleteContext implements atls.ContextSink.
func (s *Store) DeleteContext(ctx context.Context, recipientID []byte) error {
	return s.ReleaseCID(ctx, recipientID)
}

// Get returns the live context whose Recipient ID is kid.
func (s *Store) Get(ctx context.Context, kid []byte) (*Record, error) {
	var (
		rec         = &Record{ExportedContext: &atls.ExportedContext{RecipientID: append([]byte{}, kid...)}}
		suite, aead int
		hkdf        string
		sealed      []byte
		chain       [][]byte
		bitmap      int64
	)
	ec := rec.ExportedContext
	err := s.pool.QueryRow(ctx, `SELECT sender_id, protocol, tls_suite, aead, hkdf, secret_sealed, peer_chain,
			local_cert, channel_binding, created_at, expires_at, replay_high, replay_bitmap
		FROM atls_contexts WHERE recipient_id = $1 AND expires_at > $2`, kid, s.Now()).Scan(
		&ec.SenderID, &ec.Protocol, &suite, &aead, &hkdf, &sealed, &chain,
		&ec.LocalCertificate, &ec.ChannelBinding, &ec.CreatedAt, &ec.ExpiresAt, &rec.ReplayHigh, &bitmap)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("ctxstore: get: %w", err)
	}
	rec.ReplayBitmap = uint32(bitmap)
	params, ok := atls.SuiteTable[uint16(suite)]
	if !ok || params.AEAD != aead || hashName(params.Hash) != hkdf {
		return nil, fmt.Errorf("ctxstore: context %x has an unknown suite %#04x", kid, suite)
	}
	ec.Suite = params
	ns := s.seal.NonceSize()
	if len(sealed) < ns {
		return nil, fmt.Errorf("ctxstore: context %x: sealed secret truncated", kid)
	}
	secret, err := s.seal.Open(nil, sealed[:ns], sealed[ns:], kid)
	if err != nil || len(secret) != 2*params.KeyLen {
		return nil, fmt.Errorf("ctxstore: context %x does not open under this context key", kid)
	}
	ec.MasterSecret, ec.MasterSalt = secret[:params.KeyLen], secret[params.KeyLen:]
	for _, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("ctxstore: context %x: peer certificate: %w", kid, err)
		}
		ec.PeerCertificates = append(ec.PeerCertificates, c)
	}
	return rec, nil
}

// MarkSeen records Partial IV piv in kid's replay window (RFC 8613 7.4),
// atomically: of concurrent calls with one piv on any replicas, exactly one
// succeeds; the others get ErrReplay. A piv below the window is a replay.
func (s *Store) MarkSeen(ctx context.Context, kid []byte, piv uint64) error {
	if piv >= 1<<40 {
		return ErrReplay
	}
	// Bit i of the bitmap stands for Partial IV replay_high - i.
	tag, err := s.pool.Exec(ctx, `
		UPDATE atls_contexts SET
			replay_bitmap = CASE
				WHEN $2 > replay_high THEN
					CASE WHEN $2 - replay_high >= 32 THEN 1
					     ELSE ((replay_bitmap << ($2 - replay_high)::int) | 1) & 4294967295 END
				ELSE replay_bitmap | (1::bigint << (replay_high - $2)::int) END,
			replay_high = GREATEST(replay_high, $2)
		WHERE recipient_id = $1 AND expires_at > $3 AND (
			$2 > replay_high OR
			(replay_high - $2 < 32 AND replay_bitmap & (1::bigint << (replay_high - $2)::int) = 0))`,
		kid, int64(piv), s.Now())
	if err != nil {
		return fmt.Errorf("ctxstore: mark seen: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM atls_contexts WHERE recipient_id = $1 AND expires_at > $2)`,
		kid, s.Now()).Scan(&exists); err != nil {
		return fmt.Errorf("ctxstore: mark seen: %w", err)
	}
	if !exists {
		return ErrNotFound
	}
	return ErrReplay
}

// Sweep deletes expired CID reservations and contexts.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM atls_cids WHERE expires_at <= $1`, s.Now())
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// IsUnavailable reports whether err means the database could not be reached,
// which callers answer with 503.
func IsUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	return err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrReplay) && !errors.As(err, &pgErr)
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "sha256"
	case crypto.SHA384:
		return "sha384"
	}
	return h.String()
}
