package registrarui

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// Base is where the registrar's console is served on the admin listener.
const Base = "/console"

// Store is what the console reads and changes: the admin API's store (the
// same functions its handlers call) and the activity counts of the chart.
// *store.Store implements it.
type Store interface {
	admin.Store
	Activity(ctx context.Context, since, until time.Time) ([]store.ActivityCount, error)
}

var _ Store = (*store.Store)(nil)

// ATLSStats is this replica's ATLS session table as the live page shows
// it (atls.Stats).
type ATLSStats struct {
	Sessions, Handshakes int
}

// Options is what the console is built from.
type Options struct {
	Store Store
	// Key seals session cookies and keys CSRF tokens (web.Config.Key);
	// every replica must have the same.
	Key []byte
	// Replica names this replica on the live page; Stats reads its ATLS
	// session table (nil: not shown).
	Replica string
	Stats   func() ATLSStats
	Log     *slog.Logger
	// TrustForwardedProto: see web.Config.
	TrustForwardedProto bool
	// Now is the clock of the activity chart (default time.Now).
	Now func() time.Time
}

//go:embed pages/*.html
var pagesFS embed.FS

// ui is the console with its store.
type ui struct {
	c   *web.Console[store.Principal]
	s   Store
	opt Options
}

// Roles of the registrar (store.Role), as the pages ask for them.
const (
	auditor  = string(store.RoleAuditor)
	operator = string(store.RoleOperator)
	adminR   = string(store.RoleAdmin)
)

// New returns the registrar's console, to be served at Base on the admin
// listener.
func New(o Options) (http.Handler, error) {
	if o.Store == nil {
		return nil, errors.New("registrarui: a store is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	pages, _ := fs.Sub(pagesFS, "pages")
	c, err := web.New(web.Config[store.Principal]{
		Title:   "Landfall registrar",
		Base:    Base,
		Key:     o.Key,
		Resolve: o.Store.Authenticate,
		Describe: func(p store.Principal) web.Viewer {
			return web.Viewer{Name: p.Name, Role: string(p.Role)}
		},
		Allows: admin.Allows,
		Nav: []web.NavItem{
			{Label: "Overview", Path: "/"},
			{Label: "Pledges", Path: "/pledges"},
			{Label: "Manufacturers", Path: "/manufacturers"},
			{Label: "Allow-list", Path: "/allowlist"},
			{Label: "Replicas and sessions", Path: "/live"},
			{Label: "Tokens", Path: "/tokens", Need: adminR},
		},
		Pages:               pages,
		Funcs:               funcs,
		Classify:            admin.Classify,
		Log:                 o.Log,
		TrustForwardedProto: o.TrustForwardedProto,
	})
	if err != nil {
		return nil, err
	}
	u := &ui{c: c, s: o.Store, opt: o}
	h := c.Handle
	return c.Handler(func(r chi.Router) {
		op, ad := c.Require(operator), c.Require(adminR)
		r.Get("/", h(u.overview))
		r.Get("/pledges", h(u.pledges))
		r.With(op).Post("/pledges/decisions", h(u.decideMany))
		r.Get("/pledges/{id}", h(u.story))
		r.With(op).Post("/pledges/{id}/approve", h(u.decideOne(store.DecisionApproved)))
		r.With(op).Post("/pledges/{id}/deny", h(u.decideOne(store.DecisionDenied)))
		r.Get("/manufacturers", h(u.manufacturers))
		r.With(ad).Post("/manufacturers", h(u.addManufacturer))
		r.With(ad).Post("/manufacturers/{id}/delete", h(u.removeManufacturer))
		r.Get("/allowlist", h(u.allowlist))
		r.With(op).Post("/allowlist", h(u.importAllowlist))
		r.With(op).Post("/allowlist/{manufacturer}/{serial}/delete", h(u.removeAllowed))
		r.Get("/live", h(u.live))
		r.With(ad).Get("/tokens", h(u.tokens))
		r.With(ad).Post("/tokens", h(u.createToken))
		r.With(ad).Post("/tokens/{id}/revoke", h(u.revokeToken))
	}), nil
}

// actor names the signed-in principal in audit events, as the admin API
// names a token's caller.
func (u *ui) actor(r *http.Request) string { return u.c.Principal(r).Actor() }
