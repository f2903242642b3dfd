package e2e_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/pgcluster"
)

// startPostgres does what the postgres:15 image does on an empty data
// volume: initdb, start, set POSTGRES_PASSWORD for the postgres user,
// create POSTGRES_DB, then run the init scripts compose mounts into
// /docker-entrypoint-initdb.d (deploy/postgres-init.sql). The cluster is
// pgcluster's (Debian's initdb and pg_ctl as the postgres user, on a free
// loopback port, trust authentication, so the password is set but not
// asked for).
func startPostgres(t *testing.T, m *hostMap) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := pgcluster.NewCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Destroy)
	m.ports["postgres:5432"] = pg.Port()
	env := m.compose.Services["postgres"].Environment
	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ALTER USER postgres PASSWORD "+quote(env["POSTGRES_PASSWORD"])); err != nil {
		t.Fatal(err)
	}
	if db := env["POSTGRES_DB"]; db != "" && db != "postgres" {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range m.compose.Services["postgres"].Volumes {
		parts := strings.Split(v, ":")
		if !strings.HasPrefix(parts[0], "./") || !strings.HasPrefix(parts[1], "/docker-entrypoint-initdb.d/") {
			continue
		}
		sql, err := os.ReadFile("../../" + strings.TrimPrefix(parts[0], "./"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("%s: %v", parts[0], err)
		}
	}
	return pg
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
