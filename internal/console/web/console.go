package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/requestid"
)

// Config is what a service gives its console. P is the service's
// principal type, the one its admin API resolves tokens to.
type Config[P any] struct {
	// Title names the console in the header and every page title, for
	// example "Landfall registrar".
	Title string
	// Base is the path the console is mounted at, for example "/console";
	// every link and form action is under it.
	Base string
	// Key is the secret (at least 32 bytes) the session cookie's seal and
	// the CSRF tokens are derived from (HKDF, one label each). Every
	// replica that serves the console must be given the same key.
	Key []byte
	// Resolve turns an admin token into its principal: the admin API's
	// own function, so that the console and the API authenticate alike.
	// An unknown or revoked token is its error (a 401).
	Resolve func(ctx context.Context, token string) (P, error)
	// Describe names a principal and its role for the header.
	Describe func(P) Viewer
	// Allows reports whether p may do what role need may; pages ask it
	// through View.Can and Console.Require.
	Allows func(p P, need string) bool
	// Nav is the header's menu; an item whose Need the viewer lacks is
	// not shown.
	Nav []NavItem
	// Pages holds the service's page templates (*.html). Each file
	// defines "content", and may define fragments that Page.Fragment
	// names; it is parsed over the shared layout and partials.
	Pages fs.FS
	// Funcs are extra template functions for Pages.
	Funcs template.FuncMap
	// Classify maps the service's errors to problems, as the admin API's
	// renderer does (adminapi.Renderer.Classify).
	Classify func(err error) (adminapi.Problem, bool)
	Log      *slog.Logger
	// SessionTTL bounds a session (default 8 hours); MaxBody caps every
	// request body (default 2 MiB, room for an allow-list upload).
	SessionTTL time.Duration
	MaxBody    int64
	// TrustForwardedProto takes "X-Forwarded-Proto: https" as TLS (set
	// only behind a front that sets it).
	TrustForwardedProto bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Cookie names the session cookie (default DefaultCookie; the flash
	// notice's is Cookie+"-flash"). Consoles served on one host need
	// different names: browsers do not tell cookies apart by port.
	Cookie string
}

// NavItem is one entry of the header's menu; Path is under Base.
type NavItem struct {
	Label, Path string
	// Need is the role the entry's page requires ("" for any).
	Need string
}

// Viewer is who is signed in, as the header shows them.
type Viewer struct {
	Name, Role string
}

// Defaults.
const (
	DefaultSessionTTL = 8 * time.Hour
	DefaultMaxBody    = 2 << 20
	DefaultCookie     = "landfall-console"
)

// core is the part of a console that does not depend on the principal's
// type: cookies, CSRF, templates, rendering.
type core struct {
	cfg     Config[struct{}] // the untyped fields of Config
	seal    *sealer
	csrfKey []byte
	rd      *adminapi.Renderer
	pages   map[string]*template.Template
}

// Console is a service's operator console: sign-in and sign-out, the
// session and CSRF checks, the layout, and the rendering of its pages and
// errors. Build it with New, serve it with Handler.
type Console[P any] struct {
	*core
	resolve  func(ctx context.Context, token string) (P, error)
	describe func(P) Viewer
	allows   func(p P, need string) bool
}

// New checks cfg and parses the service's pages over the layout.
func New[P any](cfg Config[P]) (*Console[P], error) {
	if len(cfg.Key) < 32 {
		return nil, errors.New("console: Key must be at least 32 bytes")
	}
	if cfg.Resolve == nil || cfg.Describe == nil || cfg.Allows == nil {
		return nil, errors.New("console: Resolve, Describe and Allows are required")
	}
	if cfg.Base == "" || cfg.Base[0] != '/' || cfg.Base[len(cfg.Base)-1] == '/' {
		return nil, fmt.Errorf("console: Base %q must start with / and not end with one", cfg.Base)
	}
	c := &core{cfg: Config[struct{}]{Title: cfg.Title, Base: cfg.Base, Nav: cfg.Nav, Pages: cfg.Pages, Funcs: cfg.Funcs,
		Classify: cfg.Classify, Log: cfg.Log, SessionTTL: cfg.SessionTTL, MaxBody: cfg.MaxBody,
		TrustForwardedProto: cfg.TrustForwardedProto, Now: cfg.Now, Cookie: cfg.Cookie}}
	if c.cfg.SessionTTL <= 0 {
		c.cfg.SessionTTL = DefaultSessionTTL
	}
	if c.cfg.MaxBody <= 0 {
		c.cfg.MaxBody = DefaultMaxBody
	}
	if c.cfg.Cookie == "" {
		c.cfg.Cookie = DefaultCookie
	}
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	if c.cfg.Log == nil {
		c.cfg.Log = slog.New(slog.DiscardHandler)
	}
	var err error
	if c.seal, err = newSealer(cfg.Key); err != nil {
		return nil, err
	}
	if c.csrfKey, err = deriveKey(cfg.Key, "csrf"); err != nil {
		return nil, err
	}
	c.rd = &adminapi.Renderer{Classify: cfg.Classify}
	if c.pages, err = c.parsePages(); err != nil {
		return nil, err
	}
	return &Console[P]{core: c, resolve: cfg.Resolve, describe: cfg.Describe, allows: cfg.Allows}, nil
}

type principalKey struct{}

type signedIn[P any] struct {
	p P
	s session
}

// Principal is the signed-in principal of a request that passed the
// console's authentication (the zero P elsewhere).
func (c *Console[P]) Principal(r *http.Request) P {
	si, _ := r.Context().Value(principalKey{}).(signedIn[P])
	return si.p
}

// Handler serves the console at Base (it expects the request's full
// path): the static files, sign-in and sign-out, and the service's pages,
// which routes registers (paths relative to Base) behind the session
// check, which also checks the CSRF token of every request that is not
// GET, HEAD or OPTIONS.
func (c *Console[P]) Handler(routes func(r chi.Router)) http.Handler {
	root := chi.NewRouter()
	root.Use(requestid.Middleware, secureHeaders)
	root.Route(c.cfg.Base, func(r chi.Router) { c.routes(r, routes) })
	root.NotFound(c.Handle(func(http.ResponseWriter, *http.Request) error {
		return errorf(http.StatusNotFound, "no such page")
	}))
	return root
}

func (c *Console[P]) routes(r chi.Router, routes func(r chi.Router)) {
	r.Handle("/static/*", http.StripPrefix(c.cfg.Base+"/static/", staticHandler()))
	r.Get("/signin", c.Handle(c.signinPage))
	r.Post("/signin", c.Handle(c.signin))
	r.Group(func(r chi.Router) {
		r.Use(c.authenticate)
		r.Post("/signout", c.Handle(c.signout))
		routes(r)
	})
	r.NotFound(c.Handle(func(http.ResponseWriter, *http.Request) error {
		return errorf(http.StatusNotFound, "no such page")
	}))
	r.MethodNotAllowed(c.Handle(func(_ http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusMethodNotAllowed, "method %s not allowed here", r.Method)
	}))
}

// authenticate lets a request through with a valid session whose token
// still resolves, and, for a change, the session's CSRF token. Without
// one, a page request is sent to the sign-in page and anything else is a
// 401.
func (c *Console[P]) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxBody)
		}
		s, err := c.readSession(r)
		if err == nil && s.Token == "" {
			err = errNoSession
		}
		var p P
		if err == nil {
			if p, err = c.resolve(r.Context(), s.Token); err != nil && c.rd.ProblemOf(err).Status != http.StatusUnauthorized {
				c.Fail(w, r, err)
				return
			}
		}
		if err != nil {
			if safeMethod(r.Method) {
				c.clearSession(w, r)
				c.redirect(w, r, "/signin")
				return
			}
			c.Fail(w, r, errorf(http.StatusUnauthorized, "not signed in, or the session's token was revoked; sign in again"))
			return
		}
		if err := c.checkCSRF(r, s); err != nil {
			c.Fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, signedIn[P]{p: p, s: s})))
	})
}

// Require lets a request through when the signed-in principal may do what
// role need may, and answers 403 otherwise. The pages hide what a viewer
// may not do (View.Can); Require refuses it even when asked directly.
func (c *Console[P]) Require(need string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := c.Principal(r)
			if !c.allows(p, need) {
				c.Fail(w, r, errorf(http.StatusForbidden, "role %s may not do this; it needs %s", c.describe(p).Role, need))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// HandlerFunc is a console handler that returns its failure; Handle
// renders it as an error page.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to net/http.
func (c *Console[P]) Handle(h HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			c.Fail(w, r, err)
		}
	}
}

// Redirect answers 303 See Other to path (under Base), the end of every
// successful change (post/redirect/get).
func (c *core) Redirect(w http.ResponseWriter, r *http.Request, path string) error {
	c.redirect(w, r, path)
	return nil
}

func (c *core) redirect(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, c.cfg.Base+path, http.StatusSeeOther)
}

// ParseForm reads the request's form, urlencoded or multipart, within
// MaxBody; a handler calls it before reading r.PostForm or r.FormFile (the
// CSRF check reads the form itself only when the token is not in the
// header). A malformed body is a 400, an oversized one a 413.
func (c *core) ParseForm(r *http.Request) error { return parseForm(r, c.cfg.MaxBody) }

// Path is path under Base.
func (c *core) Path(path string) string { return c.cfg.Base + path }

// errorf is an error with the status the console answers and the reason
// it shows.
func errorf(status int, format string, args ...any) error {
	return adminapi.Errorf(status, format, args...)
}

// Errorf is errorf for the service's handlers: status and a reason that
// the error page shows.
func Errorf(status int, format string, args ...any) error { return errorf(status, format, args...) }

func badBody(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return errorf(http.StatusBadRequest, "malformed form: %v", err)
}

func mediaType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}
