package masaui_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/httpapi"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
	"github.com/landfall-io/landfall/pkg/voucher"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// env is a MASA on a fresh database of one backend, its admin listener
// (the admin API and the console, as AdminHandler assembles them) over
// HTTP, and a token of each role.
type env struct {
	t      *testing.T
	db     sqldb.DB
	svc    *masa.Service
	srv    *httptest.Server
	tokens map[masa.Role]string
	ids    map[masa.Role]int64
}

func newEnv(t *testing.T, b testkit.Backend) *env {
	t.Helper()
	db := b.Open(t, migrations.MASASchema)
	ca, caKey := testkit.CA(t, "Example IDevID CA")
	signer, signerKey := testkit.Leaf(t, pkix.Name{CommonName: "Example MASA"}, ca, caKey)
	svc, err := masa.New(masa.Config{Store: sqlstore.New(db), Signer: &voucher.Signer{Cert: signer, Key: signerKey},
		IDevIDCA: ca, IDevIDKey: caKey, MASAURL: "masa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, svc: svc, tokens: map[masa.Role]string{}, ids: map[masa.Role]int64{}}
	for _, role := range []masa.Role{masa.RoleAdmin, masa.RoleFactory, masa.RoleSales, masa.RoleAuditor} {
		tok, secret, err := svc.CreateToken(context.Background(), "console-"+string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[role], e.ids[role] = secret, tok.ID
	}
	e.srv = httptest.NewServer(httpapi.AdminHandler(svc, httpapi.AdminOptions{}))
	t.Cleanup(e.srv.Close)
	return e
}

// actor is how the audit trail names role's token.
func (e *env) actor(role masa.Role) string {
	return fmt.Sprintf("token:%d:console-%s", e.ids[role], role)
}

// state is what the console's actions may change: every device's owner
// and status, and how many owners, vouchers and audit events there are.
func (e *env) state() string {
	e.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	rows, err := e.db.Query(ctx, `SELECT serial_number, product, COALESCE(owner_id, 0), status FROM devices ORDER BY serial_number`)
	if err != nil {
		e.t.Fatal(err)
	}
	for rows.Next() {
		var serial, product, status string
		var owner int64
		if err := rows.Scan(&serial, &product, &owner, &status); err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s/%s/%d/%s ", serial, product, owner, status)
	}
	rows.Close()
	for _, table := range []string{"owners", "vouchers", "audit_events", "policies"} {
		var n int
		if err := e.db.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%d ", table, n)
	}
	return b.String()
}

// device is the stored device, or ok false.
func (e *env) device(serial string) (masa.DeviceRecord, bool) {
	rec, err := e.svc.Store().DeviceRecord(context.Background(), serial)
	return rec, err == nil
}

// csrPEM is a fresh key's CSR naming serial, as a device makes it.
func csrPEM(t *testing.T, serial string) string {
	der := testkit.CSR(t, testkit.Key(t), pkix.Name{SerialNumber: serial})
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// caPEM is a self-signed domain CA certificate.
func caPEM(t *testing.T, cn string) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testkit.SelfSignedCA(t, cn, time.Now())}))
}

// client is a browser without JavaScript: a cookie jar, redirects not
// followed, the CSRF token of the last page it read.
type client struct {
	t    *testing.T
	e    *env
	hc   *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn signs in with role's token.
func (e *env) signIn(role masa.Role) *client {
	e.t.Helper()
	c := e.client()
	c.get("/console/signin", http.StatusOK)
	resp, body := c.post("/console/signin", url.Values{"token": {e.tokens[role]}})
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign-in as %s: %d %s", role, resp.StatusCode, body)
	}
	c.get("/console/devices", http.StatusOK)
	return c
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = html.UnescapeString(string(m[1]))
	}
	return resp, string(b)
}

// get reads a page and checks its status.
func (c *client) get(path string, want int) string {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	resp, body := c.do(req)
	if resp.StatusCode != want {
		c.t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, body)
	}
	return body
}

// post submits a urlencoded form with the page's CSRF token (unless the
// form sets csrf itself).
func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	if _, ok := form["csrf"]; !ok && c.csrf != "" {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// upload submits a multipart form with the files given, and the page's
// CSRF token.
func (c *client) upload(path string, fields map[string]string, files map[string]string) (*http.Response, string) {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if c.csrf != "" {
		mw.WriteField("csrf", c.csrf)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for k, v := range files {
		fw, _ := mw.CreateFormFile(k, k+".txt")
		fw.Write([]byte(v))
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// wantStatus fails unless resp has status want; for a redirect it checks
// the location too.
func wantStatus(t *testing.T, what string, resp *http.Response, body string, want int, location string) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: %d, want %d: %s", what, resp.StatusCode, want, body)
	}
	if location != "" && resp.Header.Get("Location") != location {
		t.Fatalf("%s: Location %q, want %q", what, resp.Header.Get("Location"), location)
	}
}

// parseCert reads the first PEM certificate of text.
func parseCert(t *testing.T, text string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(html.UnescapeString(text)))
	if blk == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
