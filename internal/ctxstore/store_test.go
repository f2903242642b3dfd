package ctxstore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
	"github.com/landfall-io/landfall/pkg/atls"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

var testKey = bytes.Repeat([]byte{0x42}, 32)

func newStore(t *testing.T) (*Store, *pgxpool.Pool) {
	t.Helper()
	dsn := testpg.Database(t)
	if _, err := migrations.Up(dsn, migrations.RegistrarSchema); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := New(pool, testKey, "r1")
	if err != nil {
		t.Fatal(err)
	}
	return s, pool
}

// sample stores a context the way the ATLS server would.
func sample(t *testing.T, s *Store, peer *x509.Certificate) *atls.ExportedContext {
	t.Helper()
	ctx := context.Background()
	cid, err := s.AllocateCID(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	now := s.Now()
	ec := &atls.ExportedContext{
		Protocol:         atls.ProtoOSCORE,
		Suite:            atls.SuiteTable[tls.TLS_AES_256_GCM_SHA384],
		MasterSecret:     bytes.Repeat([]byte{1}, 32),
		MasterSalt:       bytes.Repeat([]byte{2}, 32),
		SenderID:         []byte{}, // an empty client CID is allowed (4.3)
		RecipientID:      cid,
		LocalCertificate: []byte{0x30, 0x00},
		ChannelBinding:   bytes.Repeat([]byte{3}, 32),
		CreatedAt:        now,
		ExpiresAt:        now.Add(time.Hour),
	}
	if peer != nil {
		ec.PeerCertificates = []*x509.Certificate{peer}
	}
	if err := s.StoreContext(ctx, ec); err != nil {
		t.Fatal(err)
	}
	return ec
}

func TestStoreAndGetRoundTrip(t *testing.T) {
	s, pool := newStore(t)
	ec := sample(t, s, nil)
	rec, err := s.Get(context.Background(), ec.RecipientID)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.ExportedContext
	switch {
	case !bytes.Equal(got.MasterSecret, ec.MasterSecret) || !bytes.Equal(got.MasterSalt, ec.MasterSalt):
		t.Fatal("secret or salt changed")
	case got.Suite != ec.Suite || got.Suite.Hash != crypto.SHA384 || got.Protocol != ec.Protocol:
		t.Fatalf("suite %+v protocol %s", got.Suite, got.Protocol)
	case got.SenderID == nil || len(got.SenderID) != 0:
		t.Fatalf("empty Sender ID came back as %v", got.SenderID)
	case !bytes.Equal(got.ChannelBinding, ec.ChannelBinding) || !bytes.Equal(got.LocalCertificate, ec.LocalCertificate):
		t.Fatal("channel binding or local certificate changed")
	case rec.ReplayHigh != -1 || rec.ReplayBitmap != 0:
		t.Fatalf("fresh window %d/%b", rec.ReplayHigh, rec.ReplayBitmap)
	}
	// The secret is not in the database in the clear.
	var sealed []byte
	if err := pool.QueryRow(context.Background(), `SELECT secret_sealed FROM atls_contexts`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, ec.MasterSecret[:8]) {
		t.Fatal("master secret stored in the clear")
	}
	// Another key cannot open it.
	other, _ := New(pool, bytes.Repeat([]byte{9}, 32), "r2")
	if _, err := other.Get(context.Background(), ec.RecipientID); err == nil {
		t.Fatal("opened under the wrong context key")
	}
	if _, err := s.Get(context.Background(), []byte{0xde, 0xad}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown kid: %v", err)
	}
}

func TestReplayWindow(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	kid := sample(t, s, nil).RecipientID
	steps := []struct {
		piv  uint64
		want error
	}{
		{0, nil}, {0, ErrReplay}, {5, nil}, {3, nil}, {3, ErrReplay}, {5, ErrReplay},
		{4, nil}, {36, nil}, {5, ErrReplay} /* 36-5 = 31: in the window, seen */, {4, ErrReplay}, /* below the window */
		{6, nil}, {100, nil}, {68, ErrReplay}, {69, nil}, {1<<40 - 1, nil}, {1 << 40, ErrReplay},
	}
	for i, st := range steps {
		if err := s.MarkSeen(ctx, kid, st.piv); !errors.Is(err, st.want) && err != st.want {
			t.Fatalf("step %d piv %d: %v, want %v", i, st.piv, err, st.want)
		}
		rec, err := s.Get(ctx, kid)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Seen(st.piv) && st.piv < 1<<40 {
			t.Fatalf("step %d: piv %d not seen after marking", i, st.piv)
		}
	}
	if err := s.MarkSeen(ctx, []byte{1, 2, 3}, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown kid: %v", err)
	}
}

// TestConcurrentReplayRunsOnce replays one Partial IV from many goroutines
// (as many replicas would): exactly one may pass.
func TestConcurrentReplayRunsOnce(t *testing.T) {
	s, _ := newStore(t)
	kid := sample(t, s, nil).RecipientID
	for piv := uint64(0); piv < 5; piv++ {
		var ok, replay atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := s.MarkSeen(context.Background(), kid, piv); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrReplay):
					replay.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || replay.Load() != 15 {
			t.Fatalf("piv %d: %d succeeded, %d replays", piv, ok.Load(), replay.Load())
		}
	}
}

func TestExpiryDeleteAndCIDUniqueness(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := base
	s.Now = func() time.Time { return now }
	ec := sample(t, s, nil)
	now = base.Add(time.Hour + time.Second)
	if _, err := s.Get(ctx, ec.RecipientID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired context: %v", err)
	}
	if err := s.MarkSeen(ctx, ec.RecipientID, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired context mark: %v", err)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep %d %v", n, err)
	}
	ec = sample(t, s, nil)
	if err := s.DeleteContext(ctx, ec.RecipientID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, ec.RecipientID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted context: %v", err)
	}
	// One-byte CIDs: 256 allocations never repeat, and the next one fails.
	s.CIDLen = 1
	seen := map[byte]bool{}
	for range 256 {
		cid, err := s.AllocateCID(ctx, 6)
		if err != nil {
			break // crowded before the space is full: random probing gives up
		}
		if seen[cid[0]] {
			t.Fatalf("CID %x handed out twice", cid)
		}
		seen[cid[0]] = true
	}
	if len(seen) < 200 {
		t.Fatalf("only %d one-byte CIDs allocated", len(seen))
	}
	// A context can only be stored under a reserved CID.
	ec.RecipientID = []byte{0xee, 0xee, 0xee, 0xee, 0xee}
	if err := s.StoreContext(ctx, ec); err == nil {
		t.Fatal("stored a context under an unreserved CID")
	}
}
