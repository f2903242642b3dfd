package web

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"log/slog"

	"github.com/landfall-io/landfall/internal/requestid"
)

//go:embed templates/*.html
var layoutFS embed.FS

// Page is what a handler renders: a page template of Config.Pages (its
// file name without .html) with its data. Status defaults to 200.
// Fragment, when set, renders only that template of the page, without the
// layout, for htmx requests that refresh part of a page.
type Page struct {
	Name     string
	Title    string
	Status   int
	Data     any
	Fragment string
}

// View is the dot of every template: the page's data in Data, and what
// the layout and partials need.
type View struct {
	Console string // Config.Title
	Title   string
	Base    string
	Nav     []NavItem
	Active  string // the Nav path the request is under
	Viewer  Viewer
	CSRF    string // the session's CSRF token, for forms (field CSRFField)
	Flash   string
	Data    any
	url     *url.URL
	can     func(need string) bool
}

// Can reports whether the viewer may do what role need may; pages show
// an action's controls only when it holds.
func (v View) Can(need string) bool { return v.can != nil && v.can(need) }

// PageURL is the current page's URL with the query parameter key set to
// value (removed when value is empty): the pager's next-page link.
func (v View) PageURL(key, value string) string {
	if v.url == nil {
		return v.Base + "/"
	}
	q := v.url.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u := url.URL{Path: v.url.Path, RawQuery: q.Encode()}
	return u.String()
}

// Self is the current page's URL (path and query), for an htmx element
// that refreshes the page it is on.
func (v View) Self() string {
	if v.url == nil {
		return v.Base + "/"
	}
	u := url.URL{Path: v.url.Path, RawQuery: v.url.RawQuery}
	return u.String()
}

// funcs are the template functions of every page.
func (c *core) funcs() template.FuncMap {
	base := c.cfg.Base
	return template.FuncMap{
		// path is a console path under Base.
		"path": func(p string, args ...any) string {
			s := base + p
			for _, a := range args {
				s += "/" + url.PathEscape(fmt.Sprint(a))
			}
			return s
		},
		// when formats a time in UTC to the second; the zero time is "".
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				if v.IsZero() {
					return ""
				}
				return v.UTC().Format("2006-01-02 15:04:05Z")
			case *time.Time:
				if v == nil || v.IsZero() {
					return ""
				}
				return v.UTC().Format("2006-01-02 15:04:05Z")
			}
			return fmt.Sprint(t)
		},
		// subject is a DER certificate's subject, or why it cannot be read.
		"subject": func(der []byte) string {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return "(unreadable certificate)"
			}
			return c.Subject.String()
		},
		// fingerprint is the SHA-256 of DER, abbreviated.
		"fingerprint": func(der []byte) string {
			if len(der) == 0 {
				return ""
			}
			sum := sha256.Sum256(der)
			return hex.EncodeToString(sum[:8])
		},
		// list is its arguments as a slice, for ranging over constants.
		"list": func(s ...string) []string { return s },
	}
}

// parsePages parses each page of Config.Pages over the shared layout,
// sign-in and error templates and partials.
func (c *core) parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout").Funcs(c.funcs()).Funcs(c.cfg.Funcs).ParseFS(layoutFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, own := range []string{"signin", "error"} {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.Parse(`{{define "content"}}{{template "` + own + `-content" .}}{{end}}`); err != nil {
			return nil, err
		}
		pages["web:"+own] = t
	}
	if c.cfg.Pages == nil {
		return pages, nil
	}
	files, err := fs.Glob(c.cfg.Pages, "*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if t, err = t.ParseFS(c.cfg.Pages, f); err != nil {
			return nil, fmt.Errorf("console page %s: %w", f, err)
		}
		pages[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return pages, nil
}

// view builds the dot for a request.
func (c *Console[P]) view(w http.ResponseWriter, r *http.Request, title string, data any) View {
	v := View{Console: c.cfg.Title, Title: title, Base: c.cfg.Base, Data: data, url: r.URL}
	if si, ok := r.Context().Value(principalKey{}).(signedIn[P]); ok {
		v.Viewer = c.describe(si.p)
		v.CSRF = c.csrfToken(si.s)
		v.can = func(need string) bool { return c.allows(si.p, need) }
		for _, n := range c.cfg.Nav {
			if n.Need == "" || c.allows(si.p, n.Need) {
				v.Nav = append(v.Nav, n)
				if p := c.cfg.Base + n.Path; r.URL.Path == p || (n.Path != "/" && strings.HasPrefix(r.URL.Path, p+"/")) {
					v.Active = n.Path
				}
			}
		}
		v.Flash = c.takeFlash(w, r)
	}
	return v
}

// Render answers with a page. The page is executed into a buffer first, so
// that a template failure is a clean 500, not half a page.
func (c *Console[P]) Render(w http.ResponseWriter, r *http.Request, pg Page) error {
	return c.render(w, r, pg, c.view(w, r, pg.Title, pg.Data))
}

func (c *core) render(w http.ResponseWriter, r *http.Request, pg Page, v View) error {
	t, ok := c.pages[pg.Name]
	if !ok {
		return fmt.Errorf("console: no page %q", pg.Name)
	}
	name := "layout"
	if pg.Fragment != "" {
		name = pg.Fragment
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		return fmt.Errorf("console: page %s: %w", pg.Name, err)
	}
	status := pg.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// errorView is the error page's data.
type errorView struct {
	Status    int
	Text      string
	Detail    string
	RequestID string
}

// Fail answers r with an error page: the status and reason the admin API
// would give (adminapi.Renderer.ProblemOf with the service's Classify), a
// 5xx's cause only in the log, with the request id.
func (c *Console[P]) Fail(w http.ResponseWriter, r *http.Request, err error) {
	p := c.rd.ProblemOf(err)
	level := slogLevel(p.Status)
	c.cfg.Log.Log(r.Context(), level, "console request failed", "request_id", requestid.From(r.Context()),
		"method", r.Method, "path", r.URL.Path, "status", p.Status, "cause", err)
	ev := errorView{Status: p.Status, Text: http.StatusText(p.Status), Detail: p.Detail, RequestID: requestid.From(r.Context())}
	if rerr := c.render(w, r, Page{Name: "web:error", Status: p.Status}, c.view(w, r, http.StatusText(p.Status), ev)); rerr != nil {
		http.Error(w, p.Detail, p.Status)
	}
}

// slogLevel logs a 5xx at error level, anything else at info.
func slogLevel(status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelError
	}
	return slog.LevelInfo
}
