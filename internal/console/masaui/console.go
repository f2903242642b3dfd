package masaui

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/masa"
)

// Base is where the MASA's console is served on the admin listener.
const Base = "/console"

// pageSize is how many rows a list page shows.
const pageSize = 50

// Options is what the console is built from.
type Options struct {
	Service *masa.Service
	// Key seals session cookies and keys CSRF tokens (web.Config.Key);
	// every MASA replica must have the same.
	Key []byte
	// Classify maps the service's errors to the admin API's problems, so
	// that the console shows the status and reason the API would give.
	Classify func(err error) (adminapi.Problem, bool)
	Log      *slog.Logger
	// TrustForwardedProto: see web.Config.
	TrustForwardedProto bool
}

//go:embed pages/*.html
var pagesFS embed.FS

// ui is the console with its service.
type ui struct {
	c   *web.Console[masa.Token]
	svc *masa.Service
}

// The permissions the pages ask for (masa.Permission), as strings.
const (
	permFactory      = string(masa.PermFactory)
	permSales        = string(masa.PermSales)
	permReadDevices  = string(masa.PermReadDevices)
	permReadOwners   = string(masa.PermReadOwners)
	permReadVouchers = string(masa.PermReadVouchers)
	permReadEvents   = string(masa.PermReadEvents)
)

// New returns the MASA's console, to be served at Base.
func New(o Options) (http.Handler, error) {
	if o.Service == nil {
		return nil, errors.New("masaui: a service is required")
	}
	pages, _ := fs.Sub(pagesFS, "pages")
	c, err := web.New(web.Config[masa.Token]{
		Title: "Landfall MASA",
		Base:  Base,
		// Not the registrar's cookie: the two consoles are often served
		// on one host, whose cookies the browser does not tell apart by port.
		Cookie:  "landfall-masa-console",
		Key:     o.Key,
		Resolve: o.Service.Authenticate,
		Describe: func(t masa.Token) web.Viewer {
			return web.Viewer{Name: t.Name, Role: string(t.Role)}
		},
		Allows: func(t masa.Token, need string) bool { return t.Can(masa.Permission(need)) },
		Nav: []web.NavItem{
			{Label: "Devices", Path: "/devices", Need: permReadDevices},
			{Label: "Owners and sales", Path: "/owners", Need: permReadOwners},
			{Label: "Vouchers", Path: "/vouchers", Need: permReadVouchers},
			{Label: "Audit log", Path: "/events", Need: permReadEvents},
		},
		Pages:               pages,
		Funcs:               funcs,
		Classify:            o.Classify,
		Log:                 o.Log,
		TrustForwardedProto: o.TrustForwardedProto,
	})
	if err != nil {
		return nil, err
	}
	u := &ui{c: c, svc: o.Service}
	h := c.Handle
	return c.Handler(func(r chi.Router) {
		need := func(p string) func(http.Handler) http.Handler { return c.Require(p) }
		factory, sales := need(permFactory), need(permSales)
		r.Get("/", h(func(w http.ResponseWriter, r *http.Request) error { return c.Redirect(w, r, "/devices") }))
		r.With(need(permReadDevices)).Get("/devices", h(u.devices))
		r.With(factory).Post("/devices/import", h(u.importDevices))
		r.With(factory).Post("/devices/mint", h(u.mint))
		r.With(need(permReadDevices)).Get("/devices/{serial}", h(u.device))
		r.With(sales).Post("/devices/{serial}/status", h(u.setStatus))
		r.With(need(permReadOwners)).Get("/owners", h(u.owners))
		r.With(sales).Post("/owners", h(u.createOwner))
		r.With(sales).Post("/sales", h(u.sell))
		r.With(sales).Post("/sales/revoke", h(u.revoke))
		r.With(need(permReadVouchers)).Get("/vouchers", h(u.vouchers))
		r.With(need(permReadEvents)).Get("/events", h(u.events))
	}), nil
}

// actor names the signed-in token in audit events, as the admin API
// names its caller.
func (u *ui) actor(r *http.Request) string { return u.c.Principal(r).Actor() }

// ownerNames maps owner ids to names, for lists that show owners.
func (u *ui) ownerNames(r *http.Request) (map[int64]string, error) {
	os, err := u.svc.Store().ListOwners(r.Context())
	if err != nil {
		return nil, err
	}
	names := make(map[int64]string, len(os))
	for _, o := range os {
		names[o.ID] = o.Name
	}
	return names, nil
}
