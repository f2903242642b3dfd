package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/pgcluster"
)

// EnvDatabaseURL names the variable that points tests at an existing server.
const EnvDatabaseURL = "LANDFALL_TEST_DATABASE_URL"

// Cluster is the cluster type tests can stop and start.
type Cluster = pgcluster.Cluster

var shared struct {
	once    sync.Once
	err     error
	cluster *Cluster // nil when EnvDatabaseURL is used
	admin   *url.URL // URL of a maintenance database on the server
}

// Run runs the test binary's tests and then tears down the cluster, if one
// was started. Call it from TestMain: os.Exit(testpg.Run(m)).
func Run(m *testing.M) int {
	code := m.Run()
	if shared.cluster != nil {
		shared.cluster.Destroy()
	}
	return code
}

// server starts the shared cluster on first use, or parses EnvDatabaseURL.
func server() (*url.URL, error) {
	shared.once.Do(func() {
		if raw := os.Getenv(EnvDatabaseURL); raw != "" {
			shared.admin, shared.err = url.Parse(raw)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.cluster, shared.err = pgcluster.NewCluster(ctx)
		if shared.err == nil {
			shared.admin, shared.err = url.Parse(shared.cluster.URL("postgres"))
		}
	})
	return shared.admin, shared.err
}

// SharedCluster returns the cluster this binary started, starting it if
// needed, for tests that stop and restart the server. It fails the test when
// EnvDatabaseURL points at a server the tests do not control.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	if _, err := server(); err != nil {
		t.Fatal(err)
	}
	if shared.cluster == nil {
		t.Skipf("%s points at an external server; this test needs a cluster it can stop", EnvDatabaseURL)
	}
	return shared.cluster
}

// Database creates an empty database for the calling test and returns its
// connection URL. The database is dropped when the test ends.
func Database(t testing.TB) string {
	t.Helper()
	admin, err := server()
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "landfall_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := execSQL(ctx, admin.String(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testpg: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := execSQL(ctx, admin.String(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testpg: drop database %s: %v", name, err)
		}
	})
	u := *admin
	u.Path = "/" + name
	return u.String()
}

func execSQL(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
