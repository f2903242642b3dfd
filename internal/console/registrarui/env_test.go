package registrarui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/console/registrarui"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is the console over a fresh store of one backend, behind a real
// listener, with a token of each role.
type env struct {
	t      *testing.T
	db     sqldb.DB
	store  *store.Store
	srv    *httptest.Server
	tokens map[store.Role]string
}

func newEnv(t *testing.T, b testkit.Backend) *env {
	t.Helper()
	db := b.Open(t, migrations.RegistrarSchema)
	e := &env{t: t, db: db, store: store.New(db, store.WithClock(func() time.Time { return testNow })), tokens: map[store.Role]string{}}
	h, err := registrarui.New(registrarui.Options{Store: e.store, Key: []byte(strings.Repeat("s", 32)), Replica: "r1",
		Stats: func() registrarui.ATLSStats { return registrarui.ATLSStats{Sessions: 3, Handshakes: 1} },
		Now:   func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	for _, role := range []store.Role{store.RoleAuditor, store.RoleOperator, store.RoleAdmin} {
		if e.tokens[role], err = e.store.CreateToken(context.Background(), string(role)+"-token", role, "bootstrap"); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// client is a browser without a browser: a cookie jar, no redirects
// followed, and the CSRF token of the last page.
type client struct {
	e    *env
	hc   *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (e *env) signIn(role store.Role) *client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	c.get("/console/signin", 200)
	if st, _ := c.post("/console/signin", url.Values{"token": {e.tokens[role]}}, true); st != http.StatusSeeOther {
		e.t.Fatalf("sign-in as %s: %d", role, st)
	}
	c.get("/console/", 200)
	return c
}

// get fetches path, expects status and keeps the page's CSRF token.
func (c *client) get(path string, status int) string {
	c.e.t.Helper()
	resp, err := c.hc.Get(c.e.srv.URL + path)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		c.e.t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, status, b)
	}
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return string(b)
}

// post sends a form, with the CSRF token when withCSRF.
func (c *client) post(path string, form url.Values, withCSRF bool) (int, string) {
	c.e.t.Helper()
	if withCSRF {
		form.Set("csrf", c.csrf)
	}
	resp, err := c.hc.PostForm(c.e.srv.URL+path, form)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// snapshot is every table a console action may change.
func (e *env) snapshot() string {
	e.t.Helper()
	var b strings.Builder
	for _, q := range []string{"pledges WHERE decision = 'pending'", "pledges WHERE decision = 'approved'", "pledges WHERE decision = 'denied'",
		"manufacturers", "allowlist", "admin_tokens WHERE revoked_at IS NULL", "audit_events"} {
		b.WriteString(q + "=" + strconv.Itoa(testkit.Count(e.t, e.db, q)) + " ")
	}
	return b.String()
}
