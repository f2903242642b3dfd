package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/requestid"
)

// AdminOptions configures the admin handler.
type AdminOptions struct {
	// MaxBody caps JSON request bodies (1 MiB); MaxImport caps imports (32 MiB).
	MaxBody, MaxImport int64
	Logger             *slog.Logger
	// Metrics, when set, is served at /metrics (no token: bind the admin
	// listener where only operators reach it).
	Metrics *Metrics
}

type adminAPI struct {
	svc *masa.Service
	opt AdminOptions
}

// AdminHandler serves the factory and operator API under /admin/v1 and the
// health endpoints /healthz and /readyz. Every /admin/v1 call needs a
// bearer token whose role the route allows (admin is allowed everywhere).
// The conventions (snake_case members, ?limit= and ?cursor= paging,
// problem+json errors, X-Request-Id) are internal/adminapi's; each
// resource has its file: idevids.go, devices.go, owners.go, policies.go,
// vouchers.go and events.go. The operator console is served beside it at
// /console/ (console.go), and GET / redirects there.
func AdminHandler(svc *masa.Service, opt AdminOptions) http.Handler {
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	if opt.MaxImport <= 0 {
		opt.MaxImport = 32 << 20
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	a := &adminAPI{svc: svc, opt: opt}
	rd := &adminapi.Renderer{Realm: "masa-admin", Log: opt.Logger, Classify: classify}
	auth := adminapi.NewAuth(rd, func(ctx context.Context, secret string) (masa.Token, error) {
		return a.svc.Authenticate(ctx, secret)
	})
	h := rd.Handle
	r := chi.NewRouter()
	r.Use(requestid.Middleware)
	r.Method(http.MethodGet, "/healthz", adminapi.Healthz())
	r.Method(http.MethodGet, "/readyz", rd.Readyz(pinger{a}))
	if opt.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", opt.Metrics.Handler())
	}
	r.Route("/admin/v1", func(r chi.Router) {
		r.Use(auth.Authenticate)
		// The role is checked before the body is capped, so that a token
		// that may not call a route learns that first.
		body, imports := rd.LimitBody(opt.MaxBody), rd.LimitBody(opt.MaxImport)
		allow := func(p masa.Permission) func(http.Handler) http.Handler {
			return auth.Require(func(t masa.Token) error { return t.Check(p) })
		}
		factory, sales := allow(masa.PermFactory), allow(masa.PermSales)
		r.With(factory, body).Post("/idevids", h(a.issueIDevID))
		r.With(factory, imports).Post("/devices/import", h(a.importDevices))
		r.With(allow(masa.PermReadDevices)).Get("/devices", h(a.listDevices))
		r.With(allow(masa.PermReadDevices)).Get("/devices/{serial}", h(a.getDevice))
		r.With(sales, body).Post("/devices/status", h(a.setStatus))
		r.With(sales, body).Post("/owners", h(a.createOwner))
		r.With(allow(masa.PermReadOwners)).Get("/owners", h(a.listOwners))
		r.With(sales, body).Post("/ownership/assign", h(a.assign))
		r.With(sales, body).Post("/ownership/revoke", h(a.revoke))
		r.With(sales, body).Put("/policies/{scope}/{subject}", h(a.setPolicy))
		r.With(sales).Delete("/policies/{scope}/{subject}", h(a.deletePolicy))
		r.With(allow(masa.PermReadVouchers)).Get("/vouchers", h(a.listVouchers))
		r.With(allow(masa.PermReadEvents)).Get("/events", h(a.listEvents))
	})
	// The operator console (console.go). The contract test walks the
	// routes of a handler built without a service, which has no console.
	if svc != nil {
		a.mountConsole(r)
	}
	r.NotFound(rd.NotFound)
	r.MethodNotAllowed(rd.MethodNotAllowed)
	return r
}

// actor names the token in audit events (masa.Token.Actor).
func actor(r *http.Request) string { return adminapi.PrincipalOf[masa.Token](r).Actor() }

// pinger reaches the store when the probe runs, not when the handler is
// built (the route walk of the contract test builds it without a service).
type pinger struct{ a *adminAPI }

func (p pinger) Ping(ctx context.Context) error { return p.a.svc.Store().Ping(ctx) }

// classify maps the service's errors to problem documents (RFC 9457):
// *masa.Error says its status, reason and retry delay; an import names
// its rejected rows.
func classify(err error) (adminapi.Problem, bool) {
	var ie *masa.ImportError
	if errors.As(err, &ie) {
		p := adminapi.NewProblem(http.StatusUnprocessableEntity, ie.Error())
		rows := make([]rowError, len(ie.Rows))
		for i, r := range ie.Rows {
			rows[i] = rowError{Line: r.Line, SerialNumber: r.Serial, Reason: r.Reason}
		}
		p.Rows = rows
		return p, true
	}
	var me *masa.Error
	if errors.As(err, &me) {
		p := adminapi.NewProblem(me.Status, me.Reason)
		p.RetryAfter = me.Retry
		return p, true
	}
	return adminapi.Problem{}, false
}

// rowError is one rejected row of an import, in a problem's rows.
type rowError struct {
	Line         int    `json:"line"`
	SerialNumber string `json:"serial_number,omitempty"`
	Reason       string `json:"reason"`
}
