package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/api"
	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is an admin API on a fresh database, behind a real listener, with a
// token of each role.
type env struct {
	t       *testing.T
	pool    *pgxpool.Pool
	store   *store.Store
	srv     *httptest.Server
	tokens  map[store.Role]string
	revoked string
}

func newEnv(t *testing.T, sc *api.Checker, opts ...admin.Option) *env {
	t.Helper()
	pool := testkit.Pool(t, migrations.RegistrarSchema)
	e := &env{t: t, pool: pool, store: store.New(pool, store.WithClock(func() time.Time { return testNow })), tokens: map[store.Role]string{}}
	var h http.Handler = admin.New(e.store, opts...)
	if sc != nil {
		h = sc.Wrap(h)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	ctx := context.Background()
	var err error
	for _, role := range []store.Role{store.RoleAuditor, store.RoleOperator, store.RoleAdmin} {
		if e.tokens[role], err = e.store.CreateToken(ctx, string(role)+"-token", role, "bootstrap"); err != nil {
			t.Fatal(err)
		}
	}
	if e.revoked, err = e.store.CreateToken(ctx, "gone", store.RoleAdmin, "bootstrap"); err != nil {
		t.Fatal(err)
	}
	p, _ := e.store.Authenticate(ctx, e.revoked)
	if err := e.store.RevokeToken(ctx, p.TokenID, "bootstrap"); err != nil {
		t.Fatal(err)
	}
	return e
}

type call struct {
	method, path, token, contentType string
	body                             []byte
	header                           map[string]string
	chunked                          bool // hide the body's length (no Content-Length)
}

func (e *env) do(c call) (*http.Response, []byte) {
	e.t.Helper()
	var body io.Reader = bytes.NewReader(c.body)
	if c.chunked {
		body = struct{ io.Reader }{body}
	}
	req, err := http.NewRequest(c.method, e.srv.URL+c.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// expect makes a call, fails the test unless it gets status, and decodes
// a JSON answer into out (when not nil).
func (e *env) expect(status int, c call, out any) []byte {
	e.t.Helper()
	resp, b := e.do(c)
	if resp.StatusCode != status {
		e.t.Fatalf("%s %s: %d, want %d: %s", c.method, c.path, resp.StatusCode, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", c.method, c.path, err, b)
		}
	}
	return b
}

// snapshot digests every table the admin API can change, to show that a
// rejected request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	return testkit.Snapshot(e.t, e.pool, "manufacturers", "allowlist", "pledges", "voucher_exchanges", "telemetry",
		"certificates", "admin_tokens", "audit_events")
}

// selfSigned returns a DER CA certificate named cn.
func selfSigned(t testing.TB, cn string) []byte { return testkit.SelfSignedCA(t, cn, testNow) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
