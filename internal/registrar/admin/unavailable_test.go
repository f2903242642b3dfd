package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// authOnly authenticates against the live database and serves everything
// else from one that is down: the database failing mid-request.
type authOnly struct {
	admin.Store
	live admin.Store
}

func (a authOnly) Authenticate(ctx context.Context, token string) (store.Principal, error) {
	return a.live.Authenticate(ctx, token)
}

// TestDatabaseDown: with PostgreSQL unreachable, the API answers 503 with
// Retry-After (whether authentication or the operation itself fails),
// readiness fails, liveness holds, and the answers match the spec.
func TestDatabaseDown(t *testing.T) {
	sc, _ := newSpecChecker(t)
	e := newEnv(t, nil)
	// Nothing listens on port 1; the pool connects lazily.
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	down := store.New(pool)
	op := e.tokens[store.RoleOperator]

	for name, s := range map[string]admin.Store{"unreachable": down, "unreachable after authentication": authOnly{Store: down, live: e.store}} {
		t.Run(name, func(t *testing.T) {
			e.srv = httptest.NewServer(sc.Wrap(admin.New(s)))
			defer e.srv.Close()
			for _, c := range []call{
				{method: "GET", path: "/api/v1/pledges", token: op},
				{method: "POST", path: "/api/v1/pledges/1/approve", token: op},
				{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "text/csv", body: []byte("manufacturer,serial,note\nAcme,A-1,\n")},
				{method: "GET", path: "/readyz"},
			} {
				resp, b := e.do(c)
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s %s: %d Retry-After %q, want 503 with Retry-After: %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Retry-After"), b)
				}
			}
			e.expect(http.StatusOK, call{method: "GET", path: "/healthz"}, nil)
		})
	}
}
