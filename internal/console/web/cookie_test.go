package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/adminapi"
)

// TestConsolesOnOneHost: a browser keeps one cookie per name and host,
// whatever the port, so two consoles on one host (a registrar's and a
// MASA's admin listeners) keep their sessions apart only under different
// Config.Cookie names; under one name, signing in to the second ends the
// first.
func TestConsolesOnOneHost(t *testing.T) {
	serve := func(cookie, key, token string) *httptest.Server {
		c, err := New(Config[string]{
			Title: "c", Base: "/console", Key: []byte(strings.Repeat(key, 32)), Cookie: cookie,
			Resolve: func(_ context.Context, tok string) (string, error) {
				if tok != token {
					return "", adminapi.Errorf(http.StatusUnauthorized, "unknown token")
				}
				return tok, nil
			},
			Describe: func(p string) Viewer { return Viewer{Name: p, Role: "r"} },
			Allows:   func(string, string) bool { return true },
		})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(c.Handler(func(r chi.Router) {
			r.Get("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "home") })
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string) {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	signIn := func(srv *httptest.Server, token string) {
		_, page := get(srv.URL + "/console/signin")
		resp, err := hc.PostForm(srv.URL+"/console/signin", url.Values{"token": {token}, "csrf": {csrfOf(t, page)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in at %s: %d", srv.URL, resp.StatusCode)
		}
	}
	signedIn := func(srv *httptest.Server) bool {
		resp, body := get(srv.URL + "/console/")
		return resp.StatusCode == http.StatusOK && body == "home"
	}

	a, b := serve("landfall-registrar-console", "a", "ta"), serve("landfall-masa-console", "b", "tb")
	signIn(a, "ta")
	signIn(b, "tb")
	if !signedIn(a) || !signedIn(b) {
		t.Fatalf("consoles with their own cookies: signed in at a %v, at b %v", signedIn(a), signedIn(b))
	}

	c, d := serve("", "c", "tc"), serve("", "d", "td")
	signIn(c, "tc")
	signIn(d, "td")
	if signedIn(c) {
		t.Fatal("two consoles sharing the default cookie name kept both sessions; the test no longer shows why Cookie exists")
	}
}
