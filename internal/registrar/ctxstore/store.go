package ctxstore

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/oscore"
)

// cidReservation is how long a CID allocated for a handshake stays reserved
// before its context is stored; long enough for the Finished POST.
const cidReservation = 2 * time.Minute

// Store is the PostgreSQL context store.
type Store struct {
	db      sqldb.DB
	seal    cipher.AEAD
	replica string
	// CIDLen is the length of allocated CIDs (capped by the AEAD); default 4.
	CIDLen int
	Now    func() time.Time
}

// New returns a store on pool. key is the 32-byte context-sealing key all
// replicas share; replica names this replica in CID reservations.
func New(db sqldb.DB, key []byte, replica string) (*Store, error) {
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
	return &Store{db: db, seal: aead, replica: replica, CIDLen: 4, Now: time.Now}, nil
}

// AllocateCID implements atls.CIDAllocator: a random CID, reserved in
// the database so that no replica hands it out twice.
func (s *Store) AllocateCID(ctx context.Context, maxLen int) ([]byte, error) {
	return s.drawCID(maxLen, func(cid []byte) (bool, error) {
		tag, err := s.db.Exec(ctx, `INSERT INTO atls_cids (cid, replica, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (cid) DO NOTHING`, cid, s.replica, s.Now().Add(cidReservation))
		if err != nil {
			return false, fmt.Errorf("ctxstore: allocate CID: %w", err)
		}
		return tag.RowsAffected() == 1, nil
	})
}

// drawCID draws random CIDs of min(CIDLen, maxLen) bytes until take
// takes one, 16 times at most.
func (s *Store) drawCID(maxLen int, take func(cid []byte) (bool, error)) ([]byte, error) {
	n := min(s.CIDLen, maxLen)
	if n < 1 {
		return nil, fmt.Errorf("ctxstore: no room for a connection ID: %w", atls.ErrNoCID)
	}
	for range 16 {
		cid := make([]byte, n)
		if _, err := rand.Read(cid); err != nil {
			return nil, err
		}
		switch ok, err := take(cid); {
		case err != nil:
			return nil, err
		case ok:
			return cid, nil
		}
	}
	return nil, fmt.Errorf("ctxstore: %d-byte connection-ID space is crowded: %w", n, atls.ErrNoCID)
}

// ReleaseCID implements atls.CIDAllocator; it deletes the CID's context too.
func (s *Store) ReleaseCID(ctx context.Context, cid []byte) error {
	_, err := s.db.Exec(ctx, `DELETE FROM atls_cids WHERE cid = $1`, cid)
	return err
}

// ReleaseCIDDeletesContext implements atls.ContextCIDReleaser: the
// context row references its CID (ON DELETE CASCADE), so ReleaseCID
// deletes both and the ATLS server need not call Delete first.
func (s *Store) ReleaseCIDDeletesContext() bool { return true }

// Put implements oscore.ContextStore. The kid's CID reservation is taken
// over (or made, for a kid allocated elsewhere) and extended to the
// context's lifetime.
func (s *Store) Put(ctx context.Context, c *oscore.StoredContext) error {
	args, err := s.putArgs(c, c.Params.RecipientID)
	if err == nil {
		if sqldb.DialectOf(s.db) == sqldb.PostgreSQL {
			err = s.putOne(ctx, args)
		} else {
			err = s.putInTx(ctx, args)
		}
	}
	if err != nil {
		return fmt.Errorf("ctxstore: put context %x: %w", c.Params.RecipientID, err)
	}
	return nil
}

// PutNew implements atls.ContextAllocator: it stores c under a fresh
// random CID, which it returns as the context's Recipient ID (c's own is
// ignored). On PostgreSQL the reservation and the context are one
// statement, where AllocateCID then Put are two round trips. A CID held
// by any reservation, a handshake's or a context's, live or not yet swept,
// is drawn again: nothing is taken over.
func (s *Store) PutNew(ctx context.Context, c *oscore.StoredContext, maxLen int) ([]byte, error) {
	return s.drawCID(maxLen, func(cid []byte) (bool, error) {
		args, err := s.putArgs(c, cid)
		if err != nil {
			return false, err
		}
		var stored bool
		if sqldb.DialectOf(s.db) == sqldb.PostgreSQL {
			stored, err = s.putNewOne(ctx, args)
		} else {
			stored, err = s.putNewInTx(ctx, args)
		}
		if err != nil {
			return false, fmt.Errorf("ctxstore: put new context: %w", err)
		}
		return stored, nil
	})
}

// putArgs are the columns of c stored under kid, its secret sealed with
// kid as additional data: $1 kid ... $12 expires_at, $13 now, $14 this
// replica.
func (s *Store) putArgs(c *oscore.StoredContext, kid []byte) ([]any, error) {
	p := c.Params
	secret := append(append([]byte{}, p.MasterSecret...), p.MasterSalt...)
	nonce := make([]byte, s.seal.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := s.seal.Seal(nonce, nonce, secret, kid)
	return []any{kid, nonNil(p.SenderID), c.Protocol, int(c.TLSSuite), int(p.AEAD), hashName(crypto.Hash(p.HKDF)),
		sealed, nonNilChain(c.PeerCertificates), c.LocalCertificate, c.ChannelBinding, c.CreatedAt, c.ExpiresAt, s.Now(), s.replica}, nil
}

// putNewOne is PutNew's statement on PostgreSQL: the reservation, only if
// no row holds the CID, and the context, only if the reservation was made
// (its foreign key is checked at the statement's end). No row: the CID
// was taken.
func (s *Store) putNewOne(ctx context.Context, args []any) (bool, error) {
	var kid []byte
	err := s.db.QueryRow(ctx, `WITH cid AS (
			INSERT INTO atls_cids (cid, replica, expires_at) VALUES ($1, $13, $12)
			ON CONFLICT (cid) DO NOTHING
			RETURNING cid)
		INSERT INTO atls_contexts (recipient_id, sender_id, protocol, tls_suite, aead, hkdf,
			secret_sealed, peer_chain, local_cert, channel_binding, created_at, expires_at)
		SELECT cid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM cid
		RETURNING recipient_id`, append(args[:12:12], args[13])...).Scan(&kid)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// putNewInTx is PutNew on the embedded store: the reservation if the CID
// is free, then the context, in one transaction.
func (s *Store) putNewInTx(ctx context.Context, args []any) (bool, error) {
	stored := false
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO atls_cids (cid, replica, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (cid) DO NOTHING`, args[0], args[13], args[11])
		if err != nil || tag.RowsAffected() != 1 {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO atls_contexts (recipient_id, sender_id, protocol, tls_suite, aead, hkdf,
				secret_sealed, peer_chain, local_cert, channel_binding, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, args[:12]...)
		stored = err == nil
		return err
	})
	return stored, err
}

// errLiveContext is Put's answer when a live context holds the kid.
var errLiveContext = errors.New("a live context holds this kid")

// putOne is Put on PostgreSQL, in one statement (one round trip): the
// context is inserted, or replaces an expired one under its kid (replay
// window reset); only then is the kid's reservation made or extended to
// the context's lifetime, because that INSERT reads the context's. A
// live context under the kid returns no row and changes nothing. The
// context's foreign key on its CID is checked at the statement's end,
// after the reservation exists.
func (s *Store) putOne(ctx context.Context, args []any) error {
	var cid []byte
	err := s.db.QueryRow(ctx, `WITH put AS (
			INSERT INTO atls_contexts (recipient_id, sender_id, protocol, tls_suite, aead, hkdf,
				secret_sealed, peer_chain, local_cert, channel_binding, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (recipient_id) DO UPDATE SET sender_id = EXCLUDED.sender_id, protocol = EXCLUDED.protocol,
				tls_suite = EXCLUDED.tls_suite, aead = EXCLUDED.aead, hkdf = EXCLUDED.hkdf,
				secret_sealed = EXCLUDED.secret_sealed, peer_chain = EXCLUDED.peer_chain,
				local_cert = EXCLUDED.local_cert, channel_binding = EXCLUDED.channel_binding,
				created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
				replay_high = -1, replay_bitmap = 0
			WHERE atls_contexts.expires_at <= $13
			RETURNING recipient_id, expires_at)
		INSERT INTO atls_cids (cid, replica, expires_at) SELECT recipient_id, $14, expires_at FROM put
		ON CONFLICT (cid) DO UPDATE SET expires_at = EXCLUDED.expires_at
		RETURNING cid`, args...).Scan(&cid)
	if errors.Is(err, pgx.ErrNoRows) {
		return errLiveContext
	}
	return err
}

// putInTx is Put on the embedded store, where a round trip is a function
// call: three statements in one transaction. An expired context under
// the kid gives way to the new one; the reservation is made or extended
// to the context's lifetime; the context is inserted. A live context
// under the kid makes the insert fail, and the rollback undoes the
// extension with it.
func (s *Store) putInTx(ctx context.Context, args []any) error {
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM atls_contexts WHERE recipient_id = $1 AND expires_at <= $2`, args[0], args[12]); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO atls_cids (cid, replica, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (cid) DO UPDATE SET expires_at = EXCLUDED.expires_at`, args[0], args[13], args[11])
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO atls_contexts (recipient_id, sender_id, protocol, tls_suite, aead, hkdf,
				secret_sealed, peer_chain, local_cert, channel_binding, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, args[:12]...)
		return err
	})
}

// Delete implements oscore.ContextStore.
func (s *Store) Delete(ctx context.Context, kid []byte) error {
	return s.ReleaseCID(ctx, kid)
}

// Get implements oscore.ContextStore.
func (s *Store) Get(ctx context.Context, kid []byte) (*oscore.StoredContext, error) {
	var (
		c      = &oscore.StoredContext{}
		suite  int
		aead   int
		hkdf   string
		sealed []byte
		high   int64
		bitmap int64
	)
	err := s.db.QueryRow(ctx, `SELECT sender_id, protocol, tls_suite, aead, hkdf, secret_sealed, peer_chain,
			local_cert, channel_binding, created_at, expires_at, replay_high, replay_bitmap
		FROM atls_contexts WHERE recipient_id = $1 AND expires_at > $2`, kid, s.Now()).Scan(
		&c.Params.SenderID, &c.Protocol, &suite, &aead, &hkdf, &sealed, &c.PeerCertificates,
		&c.LocalCertificate, &c.ChannelBinding, &c.CreatedAt, &c.ExpiresAt, &high, &bitmap)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, oscore.ErrContextNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("ctxstore: get: %w", err)
	}
	h, ok := hashes[hkdf]
	alg := oscore.Algorithm(aead)
	if !ok || !alg.Supported() {
		return nil, fmt.Errorf("ctxstore: context %x has unknown algorithms %d/%s", kid, aead, hkdf)
	}
	ns := s.seal.NonceSize()
	if len(sealed) < ns {
		return nil, fmt.Errorf("ctxstore: context %x: sealed secret truncated", kid)
	}
	secret, err := s.seal.Open(nil, sealed[:ns], sealed[ns:], kid)
	if err != nil || len(secret) != 2*alg.KeyLen() {
		return nil, fmt.Errorf("ctxstore: context %x does not open under this context key", kid)
	}
	c.Params.AEAD, c.Params.HKDF = alg, oscore.HKDF(h)
	c.Params.MasterSecret, c.Params.MasterSalt = secret[:alg.KeyLen()], secret[alg.KeyLen():]
	c.Params.RecipientID = append([]byte{}, kid...)
	c.Params.SenderID = nonNil(c.Params.SenderID)
	c.TLSSuite = uint16(suite)
	// The row keeps the highest Partial IV seen (-1: none); the window
	// counts from one past it.
	c.Window = oscore.ReplayWindow{High: uint64(high + 1), Bitmap: uint32(bitmap)}
	return c, nil
}

// MarkSeen implements oscore.ContextStore: it checks and advances the
// replay window (RFC 8613 7.4) in one UPDATE, so that of concurrent calls
// with one piv on any replicas exactly one succeeds.
func (s *Store) MarkSeen(ctx context.Context, kid []byte, piv uint64) error {
	if piv > oscore.MaxSequence {
		return oscore.ErrReplay
	}
	// Bit i of the bitmap stands for Partial IV replay_high - i.
	tag, err := s.db.Exec(ctx, `
		UPDATE atls_contexts SET
			replay_bitmap = CASE
				WHEN $2 > replay_high THEN
					CASE WHEN $2 - replay_high >= 32 THEN 1
					     ELSE ((replay_bitmap << CAST($2 - replay_high AS integer)) | 1) & 4294967295 END
				ELSE replay_bitmap | (CAST(1 AS bigint) << CAST(replay_high - $2 AS integer)) END,
			replay_high = CASE WHEN $2 > replay_high THEN $2 ELSE replay_high END
		WHERE recipient_id = $1 AND expires_at > $3 AND (
			$2 > replay_high OR
			(replay_high - $2 < 32 AND replay_bitmap & (CAST(1 AS bigint) << CAST(replay_high - $2 AS integer)) = 0))`,
		kid, int64(piv), s.Now())
	if err != nil {
		return fmt.Errorf("ctxstore: mark seen: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM atls_contexts WHERE recipient_id = $1 AND expires_at > $2)`,
		kid, s.Now()).Scan(&exists); err != nil {
		return fmt.Errorf("ctxstore: mark seen: %w", err)
	}
	if !exists {
		return oscore.ErrContextNotFound
	}
	return oscore.ErrReplay
}

// Sweep deletes expired CID reservations and contexts.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM atls_cids WHERE expires_at <= $1`, s.Now())
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

var hashes = map[string]crypto.Hash{"sha256": crypto.SHA256, "sha384": crypto.SHA384}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func nonNilChain(c [][]byte) [][]byte {
	if c == nil {
		return [][]byte{}
	}
	return c
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
