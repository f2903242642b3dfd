package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*store.Store, *pgxpool.Pool, *clock) {
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
	c := &clock{t: testStart}
	return store.New(pool, store.WithClock(c.Now)), pool, c
}

// selfSigned returns a DER certificate with subject cn.
func selfSigned(t testing.TB, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: testStart.Add(-time.Hour), NotAfter: testStart.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustManufacturer(t testing.TB, s *store.Store, name string) *store.Manufacturer {
	t.Helper()
	m, err := s.CreateManufacturer(context.Background(), store.Manufacturer{Name: name, IDevIDAnchor: selfSigned(t, name+" CA")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustPledge(t testing.TB, s *store.Store, mid int64, serial string) *store.Pledge {
	t.Helper()
	p, err := s.Touch(context.Background(), mid, serial, []byte("idevid-"+serial))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func count(t testing.TB, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
