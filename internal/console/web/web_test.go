package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/adminapi"
)

// TestHTMXDigest: the embedded htmx is the pinned release, byte for byte.
func TestHTMXDigest(t *testing.T) {
	b, err := staticFS.ReadFile("static/htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != HTMXSHA256 {
		t.Fatalf("static/htmx.min.js sha256 %s, want %s (htmx.org %s)", got, HTMXSHA256, HTMXVersion)
	}
	if !strings.Contains(string(b), `version:"`+HTMXVersion+`"`) {
		t.Errorf("static/htmx.min.js does not name version %s", HTMXVersion)
	}
}

type principal struct{ name, role string }

var rank = map[string]int{"auditor": 1, "operator": 2}

// testConsole is a console over a token table, with a page that shows an
// action to operators and the action itself, which counts its calls.
type testConsole struct {
	srv    *httptest.Server
	tokens map[string]principal
	acts   atomic.Int64
	now    time.Time
}

func newTestConsole(t *testing.T, tls bool) *testConsole {
	tc := &testConsole{tokens: map[string]principal{"aud-token": {"alice", "auditor"}, "op-token": {"oscar", "operator"}},
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	c, err := New(Config[principal]{
		Title: "Test console", Base: "/console", Key: []byte(strings.Repeat("k", 32)),
		Resolve: func(_ context.Context, token string) (principal, error) {
			p, ok := tc.tokens[token]
			if !ok {
				return p, adminapi.Errorf(http.StatusUnauthorized, "unknown or revoked token")
			}
			return p, nil
		},
		Describe: func(p principal) Viewer { return Viewer{Name: p.name, Role: p.role} },
		Allows:   func(p principal, need string) bool { return rank[p.role] >= rank[need] },
		Nav:      []NavItem{{Label: "Home", Path: "/"}, {Label: "Ops", Path: "/ops", Need: "operator"}},
		Pages: fstest.MapFS{"home.html": {Data: []byte(`{{define "content"}}<p id="who">{{.Viewer.Name}}</p>` +
			`{{if .Can "operator"}}<form method="post" action="{{path "/act"}}">{{template "csrf" .}}<button id="act">Act</button></form>{{end}}{{end}}`)}},
		Now: func() time.Time { return tc.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler(func(r chi.Router) {
		r.Get("/", c.Handle(func(w http.ResponseWriter, r *http.Request) error {
			return c.Render(w, r, Page{Name: "home", Title: "Home"})
		}))
		r.With(c.Require("operator")).Post("/act", c.Handle(func(w http.ResponseWriter, r *http.Request) error {
			tc.acts.Add(1)
			c.Flash(w, r, "acted")
			return c.Redirect(w, r, "/")
		}))
	})
	mux := http.NewServeMux()
	mux.Handle("/console/", h)
	if tls {
		tc.srv = httptest.NewTLSServer(mux)
	} else {
		tc.srv = httptest.NewServer(mux)
	}
	t.Cleanup(tc.srv.Close)
	return tc
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t  *testing.T
	hc *http.Client
	tc *testConsole
}

func (tc *testConsole) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	hc := tc.srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, hc: hc, tc: tc}
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.tc.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in %s", page)
	}
	return m[1]
}

// signIn signs in with token and returns the home page's CSRF token.
func (b *browser) signIn(token string) string {
	b.t.Helper()
	_, page := b.do("GET", "/console/signin", nil, nil)
	resp, _ := b.do("POST", "/console/signin", url.Values{"token": {token}, "csrf": {csrfOf(b.t, page)}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		b.t.Fatalf("sign-in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page = b.do("GET", "/console/", nil, nil)
	if resp.StatusCode != 200 {
		b.t.Fatalf("home after sign-in: %d %s", resp.StatusCode, page)
	}
	return csrfOf(b.t, page)
}

func TestSignInAndSession(t *testing.T) {
	tc := newTestConsole(t, false)
	b := tc.browser(t)
	// Not signed in: pages send to the sign-in page, changes are a 401.
	if resp, _ := b.do("GET", "/console/", nil, nil); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/signin" {
		t.Fatalf("anonymous home: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := b.do("POST", "/console/act", url.Values{}, nil); resp.StatusCode != 401 {
		t.Fatalf("anonymous action: %d", resp.StatusCode)
	}
	resp, page := b.do("GET", "/console/signin", nil, nil)
	csrf := csrfOf(t, page)
	ck := resp.Cookies()
	if len(ck) != 1 || ck[0].Name != "landfall-console" || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Secure {
		t.Fatalf("anonymous session cookie %+v", ck)
	}
	// A sign-in without the form's CSRF token, or with a bad token.
	if resp, body := b.do("POST", "/console/signin", url.Values{"token": {"op-token"}}, nil); resp.StatusCode != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("sign-in without CSRF: %d", resp.StatusCode)
	}
	if resp, body := b.do("POST", "/console/signin", url.Values{"token": {"nope"}, "csrf": {csrf}}, nil); resp.StatusCode != 401 || !strings.Contains(body, "unknown or revoked token") {
		t.Fatalf("sign-in with a bad token: %d %s", resp.StatusCode, body)
	}
	homeCSRF := b.signIn("op-token")
	if homeCSRF == csrf {
		t.Error("the CSRF token survived sign-in; a signed-in session must get a new ID")
	}
	// The signed-in operator sees the action and may take it with the token.
	_, page = b.do("GET", "/console/", nil, nil)
	if !strings.Contains(page, `id="act"`) || !strings.Contains(page, `href="/console/ops"`) {
		t.Fatalf("operator's page lacks the action or the Ops menu: %s", page)
	}
	for name, call := range map[string]struct {
		form url.Values
		hdr  map[string]string
	}{
		"no token":         {url.Values{}, nil},
		"wrong token":      {url.Values{"csrf": {csrf}}, nil},
		"wrong header":     {url.Values{}, map[string]string{CSRFHeader: "x"}},
		"foreign Origin":   {url.Values{"csrf": {homeCSRF}}, map[string]string{"Origin": "https://evil.example"}},
		"token in a query": {nil, nil},
	} {
		path := "/console/act"
		if call.form == nil {
			path += "?csrf=" + homeCSRF
		}
		if resp, _ := b.do("POST", path, call.form, call.hdr); resp.StatusCode != 403 {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	if n := tc.acts.Load(); n != 0 {
		t.Fatalf("refused requests ran the action %d times", n)
	}
	if resp, _ := b.do("POST", "/console/act", url.Values{"csrf": {homeCSRF}}, nil); resp.StatusCode != 303 {
		t.Fatalf("action with the form token: %d", resp.StatusCode)
	}
	if resp, _ := b.do("POST", "/console/act", nil, map[string]string{CSRFHeader: homeCSRF}); resp.StatusCode != 303 {
		t.Fatalf("action with the header token: %d", resp.StatusCode)
	}
	if _, page := b.do("GET", "/console/", nil, nil); !strings.Contains(page, `id="flash">acted<`) {
		t.Errorf("no flash after the action: %s", page)
	} else if _, page := b.do("GET", "/console/", nil, nil); strings.Contains(page, "acted") {
		t.Error("the flash showed twice")
	}
	if n := tc.acts.Load(); n != 2 {
		t.Fatalf("action ran %d times, want 2", n)
	}
	// Sign-out ends the session.
	if resp, _ := b.do("POST", "/console/signout", url.Values{"csrf": {homeCSRF}}, nil); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/signin" {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/console/", nil, nil); resp.StatusCode != 303 {
		t.Fatalf("home after sign-out: %d", resp.StatusCode)
	}
}

func TestRoleGating(t *testing.T) {
	tc := newTestConsole(t, false)
	b := tc.browser(t)
	csrf := b.signIn("aud-token")
	_, page := b.do("GET", "/console/", nil, nil)
	if strings.Contains(page, `id="act"`) || strings.Contains(page, "/console/ops") {
		t.Errorf("an auditor sees the operator's action or menu: %s", page)
	}
	resp, body := b.do("POST", "/console/act", url.Values{"csrf": {csrf}}, nil)
	if resp.StatusCode != 403 || !strings.Contains(body, "role auditor may not do this; it needs operator") {
		t.Fatalf("auditor's forged action: %d %s", resp.StatusCode, body)
	}
	if tc.acts.Load() != 0 {
		t.Fatal("the auditor's action ran")
	}
}

func TestSessionEndsWithTokenOrTime(t *testing.T) {
	for name, end := range map[string]func(tc *testConsole){
		"revoked": func(tc *testConsole) { delete(tc.tokens, "op-token") },
		"expired": func(tc *testConsole) { tc.now = tc.now.Add(DefaultSessionTTL + time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			tc := newTestConsole(t, false)
			b := tc.browser(t)
			csrf := b.signIn("op-token")
			end(tc)
			if resp, _ := b.do("GET", "/console/", nil, nil); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/signin" {
				t.Errorf("home: %d, want a redirect to sign in", resp.StatusCode)
			}
			if resp, _ := b.do("POST", "/console/act", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != 401 || tc.acts.Load() != 0 {
				t.Errorf("action: %d (ran %d), want 401", resp.StatusCode, tc.acts.Load())
			}
		})
	}
}

// TestForgedCookie: a cookie that was not sealed with the key, or was
// altered, is no session.
func TestForgedCookie(t *testing.T) {
	tc := newTestConsole(t, false)
	b := tc.browser(t)
	b.signIn("op-token")
	u, _ := url.Parse(tc.srv.URL)
	ck := b.hc.Jar.Cookies(u)[0]
	raw := []byte(ck.Value)
	raw[len(raw)/2] ^= 1
	for _, v := range []string{string(raw), "", "AAAA", strings.Repeat("A", 80)} {
		b.hc.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: v, Path: "/"}})
		if resp, _ := b.do("GET", "/console/", nil, nil); resp.StatusCode != 303 {
			t.Errorf("cookie %q: %d, want a redirect to sign in", v, resp.StatusCode)
		}
	}
}

// TestHeaders: every answer carries the policy; over TLS the cookie is
// Secure with the __Host- prefix.
func TestHeaders(t *testing.T) {
	tc := newTestConsole(t, true)
	b := tc.browser(t)
	for _, path := range []string{"/console/signin", "/console/", "/console/static/htmx.min.js", "/console/nothing"} {
		resp, _ := b.do("GET", path, nil, nil)
		if got := resp.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", path, got)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
	}
	resp, _ := b.do("GET", "/console/signin", nil, nil)
	if ck := resp.Cookies(); len(ck) != 1 || ck[0].Name != "__Host-landfall-console" || !ck[0].Secure || ck[0].Path != "/" {
		t.Errorf("TLS cookie %+v", ck)
	}
	b.signIn("op-token")
	resp, body := b.do("GET", "/console/", nil, nil)
	if resp.StatusCode != 200 || strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " onclick") {
		t.Errorf("page has inline script or style: %s", body)
	}
	if resp, _ := b.do("GET", "/console/nothing", nil, nil); resp.StatusCode != 404 {
		t.Errorf("unknown page: %d", resp.StatusCode)
	}
}

func TestBarChart(t *testing.T) {
	svg := string(BarChart{Title: "t<", Labels: []string{"a", "b"}, Series: []Series{{Name: "ok", Values: []int{3, 0}}, {Name: "<bad>", Values: []int{1, 7}}}}.SVG())
	if strings.Contains(svg, "<bad>") || !strings.Contains(svg, "&lt;bad&gt;") || strings.Count(svg, "<rect") != 3+2 {
		t.Errorf("chart %s", svg)
	}
	for n, want := range map[int]int{0: 4, 3: 4, 5: 8, 9: 20, 41: 80, 400: 400, 401: 800} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}
