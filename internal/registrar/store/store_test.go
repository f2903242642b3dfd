package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newStore is a store on a fresh database of backend b: every suite of
// this package runs on PostgreSQL and on the embedded SQLite store.
func newStore(t *testing.T, b testkit.Backend) (*store.Store, sqldb.DB, *testkit.Clock) {
	t.Helper()
	db := b.Open(t, migrations.RegistrarSchema)
	c := testkit.NewClock(testStart)
	return store.New(db, store.WithClock(c.Now)), db, c
}

// selfSigned returns a DER CA certificate with subject cn.
func selfSigned(t testing.TB, cn string) []byte { return testkit.SelfSignedCA(t, cn, testStart) }

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
