package ctxstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
	"github.com/landfall-io/landfall/pkg/oscore"
	"github.com/landfall-io/landfall/pkg/oscore/oscoretest"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

var testKey = bytes.Repeat([]byte{0x42}, 32)

func newStore(t *testing.T, backend testkit.Backend) (*Store, sqldb.DB) {
	t.Helper()
	db := backend.Open(t, migrations.RegistrarSchema)
	s, err := New(db, testKey, "r1")
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

// The store passes the same suite as the in-memory one on both backends,
// including concurrent replays from many goroutines (many replicas on
// PostgreSQL; many requests on the embedded store).
func TestConformance(t *testing.T) {
	testkit.EachBackend(t, func(t *testing.T, backend testkit.Backend) {
		oscoretest.RunContextStore(t, func(t *testing.T, now func() time.Time) oscore.ContextStore {
			s, _ := newStore(t, backend)
			s.Now = now
			return s
		})
	})
}

func TestSecretsSealedAtRest(t *testing.T) { testkit.EachBackend(t, tSecretsSealedAtRest) }

func tSecretsSealedAtRest(t *testing.T, backend testkit.Backend) {
	s, pool := newStore(t, backend)
	ctx := context.Background()
	c := oscoretest.Sample([]byte{5, 5}, s.Now())
	if err := s.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := pool.QueryRow(ctx, `SELECT secret_sealed FROM atls_contexts`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, c.Params.MasterSecret[:8]) || bytes.Contains(sealed, c.Params.MasterSalt[:8]) {
		t.Fatal("secret stored in the clear")
	}
	other, _ := New(pool, bytes.Repeat([]byte{9}, 32), "r2")
	if _, err := other.Get(ctx, []byte{5, 5}); err == nil || errors.Is(err, oscore.ErrContextNotFound) {
		t.Fatalf("opened under the wrong context key: %v", err)
	}
	if _, err := New(pool, []byte("short"), "r1"); err == nil {
		t.Fatal("accepted a short key")
	}
}

func TestCIDAllocation(t *testing.T) { testkit.EachBackend(t, tCIDAllocation) }

func tCIDAllocation(t *testing.T, backend testkit.Backend) {
	s, _ := newStore(t, backend)
	ctx := context.Background()
	// A CID reserved by one replica is never handed out again, by any.
	s2, _ := New(s.db, testKey, "r2")
	s.CIDLen, s2.CIDLen = 1, 1
	seen := map[byte]bool{}
	for i := range 300 {
		st := s
		if i%2 == 1 {
			st = s2
		}
		cid, err := st.AllocateCID(ctx, 6)
		if err != nil {
			break // random probing gives up when the space is crowded
		}
		if seen[cid[0]] {
			t.Fatalf("CID %x handed out twice", cid)
		}
		seen[cid[0]] = true
	}
	if len(seen) < 150 {
		t.Fatalf("only %d of 256 one-byte CIDs allocated", len(seen))
	}
	// Released CIDs (and contexts with them) return to the pool; expired
	// reservations are swept.
	for c := range seen {
		if err := s.ReleaseCID(ctx, []byte{c}); err != nil {
			t.Fatal(err)
		}
	}
	s.CIDLen = 4
	base := s.Now()
	s.Now = func() time.Time { return base }
	cid, err := s.AllocateCID(ctx, 6)
	if err != nil || len(cid) != 4 {
		t.Fatalf("cid %x %v", cid, err)
	}
	s.Now = func() time.Time { return base.Add(cidReservation + time.Second) }
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep %d %v", n, err)
	}
	if cid, err := s.AllocateCID(ctx, 0); err == nil {
		t.Fatalf("allocated %x with no room", cid)
	}
}

// A context stored under an allocated CID keeps the reservation for its
// own lifetime.
func TestPutExtendsReservation(t *testing.T) { testkit.EachBackend(t, tPutExtendsReservation) }

func tPutExtendsReservation(t *testing.T, backend testkit.Backend) {
	s, pool := newStore(t, backend)
	ctx := context.Background()
	cid, err := s.AllocateCID(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	c := oscoretest.Sample(cid, s.Now())
	if err := s.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	var exp time.Time
	if err := pool.QueryRow(ctx, `SELECT expires_at FROM atls_cids WHERE cid = $1`, cid).Scan(&exp); err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(c.ExpiresAt.Truncate(time.Microsecond)) {
		t.Fatalf("reservation expires %v, context %v", exp, c.ExpiresAt)
	}
}

// TestSweepKeepsLiveContexts: a context lives its own lifetime (profile
// 1.9): Sweep long after the handshake's CID reservation would have lapsed
// leaves it, and removes it (row and CID) once it expired.
func TestSweepKeepsLiveContexts(t *testing.T) { testkit.EachBackend(t, tSweepKeepsLiveContexts) }

func tSweepKeepsLiveContexts(t *testing.T, backend testkit.Backend) {
	s, pool := newStore(t, backend)
	ctx := context.Background()
	base := time.Now()
	s.Now = func() time.Time { return base }
	cid, err := s.AllocateCID(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	c := oscoretest.Sample(cid, base)
	c.ExpiresAt = base.Add(time.Hour)
	if err := s.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	rows := func() (contexts, cids int) {
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM atls_contexts), (SELECT count(*) FROM atls_cids)`).Scan(&contexts, &cids); err != nil {
			t.Fatal(err)
		}
		return
	}
	s.Now = func() time.Time { return base.Add(cidReservation + 10*time.Minute) }
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep %d %v", n, err)
	}
	if got, err := s.Get(ctx, cid); err != nil || !bytes.Equal(got.Params.MasterSecret, c.Params.MasterSecret) || !got.ExpiresAt.Equal(c.ExpiresAt.Truncate(time.Microsecond)) {
		t.Fatalf("live context after a sweep: %v", err)
	}
	if ctxs, cids := rows(); ctxs != 1 || cids != 1 {
		t.Fatalf("%d contexts, %d CIDs", ctxs, cids)
	}
	s.Now = func() time.Time { return base.Add(time.Hour + time.Second) }
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expiry %d %v", n, err)
	}
	if ctxs, cids := rows(); ctxs != 0 || cids != 0 {
		t.Fatalf("after expiry: %d contexts, %d CIDs", ctxs, cids)
	}
}
