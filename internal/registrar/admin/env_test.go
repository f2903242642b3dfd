package admin_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/api"
	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
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
	dsn := testpg.Database(t)
	if _, err := migrations.Up(dsn, migrations.RegistrarSchema); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := &env{t: t, pool: pool, store: store.New(pool, store.WithClock(func() time.Time { return testNow })), tokens: map[store.Role]string{}}
	var h http.Handler = admin.New(e.store, opts...)
	if sc != nil {
		h = sc.Wrap(h)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	ctx := context.Background()
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
	var b strings.Builder
	for _, table := range []string{"manufacturers", "allowlist", "pledges", "voucher_exchanges", "telemetry",
		"certificates", "admin_tokens", "audit_events"} {
		var n int64
		var digest *string
		err := e.pool.QueryRow(context.Background(),
			fmt.Sprintf(`SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM %s t`, table)).Scan(&n, &digest)
		if err != nil {
			e.t.Fatal(err)
		}
		d := ""
		if digest != nil {
			d = *digest
		}
		fmt.Fprintf(&b, "%s:%d:%s ", table, n, d)
	}
	return b.String()
}

// selfSigned returns a DER CA certificate named cn.
func selfSigned(t testing.TB, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
