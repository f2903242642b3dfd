package admin

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/requestid"
)

// Store is the registrar state the admin API reads and changes.
// *store.Store implements it.
type Store interface {
	adminapi.Pinger
	Authenticate(ctx context.Context, token string) (store.Principal, error)

	ListPledges(ctx context.Context, f store.PledgeFilter) (store.Page[store.Pledge], error)
	GetPledge(ctx context.Context, id int64) (*store.Pledge, error)
	Decide(ctx context.Context, ids []int64, decision store.Decision, actor string) ([]store.Pledge, error)
	ListExchanges(ctx context.Context, pledgeID int64) ([]store.Exchange, error)
	ListTelemetry(ctx context.Context, pledgeID int64) ([]store.Telemetry, error)
	ListCertificates(ctx context.Context, pledgeID int64) ([]store.Certificate, error)
	AllCertificates(ctx context.Context, f store.CertificateFilter) (store.Page[store.Certificate], error)

	CreateManufacturer(ctx context.Context, m store.Manufacturer, actor string) (*store.Manufacturer, error)
	UpdateManufacturer(ctx context.Context, m store.Manufacturer, actor string) (*store.Manufacturer, error)
	GetManufacturer(ctx context.Context, id int64) (*store.Manufacturer, error)
	ListManufacturers(ctx context.Context) ([]store.Manufacturer, error)
	DeleteManufacturer(ctx context.Context, id int64, actor string) error

	ImportAllowlist(ctx context.Context, rows []store.ImportRow, actor string) (store.ImportResult, error)
	ListAllowlist(ctx context.Context, f store.AllowFilter) (store.Page[store.AllowEntry], error)
	DeleteAllowlistEntry(ctx context.Context, manufacturerID int64, serial, actor string) error

	Replicas(ctx context.Context) ([]store.Replica, error)
	Contexts(ctx context.Context, limit int, cursor string) (store.Page[store.Context], error)
	ListEvents(ctx context.Context, f store.EventFilter) (store.Page[store.Event], error)

	CreateToken(ctx context.Context, name string, role store.Role, actor string) (string, error)
	ListTokens(ctx context.Context) ([]store.Token, error)
	RevokeToken(ctx context.Context, id int64, actor string) error
}

var _ Store = (*store.Store)(nil)

// Default body limits: allow-list imports, and every other request.
const (
	DefaultMaxImport = 1 << 20
	DefaultMaxBody   = 64 << 10
)

type options struct {
	log                *slog.Logger
	maxBody, maxImport int64
	monitoring         map[string]http.Handler
}

// Option configures the handler.
type Option func(*options)

// WithLogger logs failed requests (5xx at error level, others at info).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMonitoring serves each handler at its path (GET), for example
// "/metrics" and "/atls/stats", behind the same bearer tokens as the API:
// an auditor's token or better. Metrics name replicas, sessions and
// outcomes, a map for an attacker; Prometheus sends the token with
// `authorization: {credentials: ...}` in its scrape configuration.
func WithMonitoring(routes map[string]http.Handler) Option {
	return func(o *options) { o.monitoring = routes }
}

// WithBodyLimits sets the largest request body of an allow-list import
// and of every other request.
func WithBodyLimits(maxImport, maxBody int64) Option {
	return func(o *options) { o.maxImport, o.maxBody = maxImport, maxBody }
}

type api struct {
	store Store
	opt   options
	rd    *adminapi.Renderer
}

// New returns the admin API: /api/v1/... (bearer token required) and the
// unauthenticated probes /healthz and /readyz. Every answer carries an
// X-Request-Id, which the log line of a failure names.
func New(s Store, opts ...Option) http.Handler {
	o := options{log: slog.New(slog.DiscardHandler), maxBody: DefaultMaxBody, maxImport: DefaultMaxImport}
	for _, opt := range opts {
		opt(&o)
	}
	rd := &adminapi.Renderer{Realm: "landfall-registrar", Log: o.log, Classify: classify}
	a := &api{store: s, opt: o, rd: rd}
	auth := adminapi.NewAuth(rd, func(ctx context.Context, token string) (store.Principal, error) {
		return a.store.Authenticate(ctx, token)
	})
	h := rd.Handle
	r := chi.NewRouter()
	r.Use(requestid.Middleware)
	r.Method(http.MethodGet, "/healthz", adminapi.Healthz())
	r.Method(http.MethodGet, "/readyz", rd.Readyz(s))
	for path, mh := range o.monitoring {
		r.With(auth.Authenticate, auth.Require(needs(store.RoleAuditor))).Method(http.MethodGet, path, mh)
	}
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(auth.Authenticate)
		// The role is checked before the body is capped, so that a token
		// that may not call a route learns that first.
		auditor := chi.Chain(auth.Require(needs(store.RoleAuditor)), rd.LimitBody(o.maxBody))
		operator := chi.Chain(auth.Require(needs(store.RoleOperator)), rd.LimitBody(o.maxBody))
		admin := chi.Chain(auth.Require(needs(store.RoleAdmin)), rd.LimitBody(o.maxBody))
		importer := chi.Chain(auth.Require(needs(store.RoleOperator)), rd.LimitBody(o.maxImport))

		r.With(auditor...).Get("/pledges", h(a.listPledges))
		r.With(operator...).Post("/pledges/decisions", h(a.decideMany))
		r.With(auditor...).Get("/pledges/{id}", h(a.getPledge))
		r.With(operator...).Post("/pledges/{id}/approve", h(a.decideOne(store.DecisionApproved)))
		r.With(operator...).Post("/pledges/{id}/deny", h(a.decideOne(store.DecisionDenied)))
		r.With(auditor...).Get("/pledges/{id}/certificates", h(a.pledgeCertificates))

		r.With(auditor...).Get("/manufacturers", h(a.listManufacturers))
		r.With(admin...).Post("/manufacturers", h(a.createManufacturer))
		r.With(auditor...).Get("/manufacturers/{id}", h(a.getManufacturer))
		r.With(admin...).Put("/manufacturers/{id}", h(a.updateManufacturer))
		r.With(admin...).Delete("/manufacturers/{id}", h(a.deleteManufacturer))

		r.With(importer...).Post("/allowlist", h(a.importAllowlist))
		r.With(auditor...).Get("/allowlist", h(a.listAllowlist))
		r.With(operator...).Delete("/allowlist/{manufacturer}/{serial}", h(a.deleteAllowlistEntry))

		r.With(auditor...).Get("/certificates", h(a.listCertificates))
		r.With(auditor...).Get("/sessions", h(a.listSessions))
		r.With(auditor...).Get("/replicas", h(a.listReplicas))
		r.With(auditor...).Get("/audit-events", h(a.listEvents))

		r.With(admin...).Get("/tokens", h(a.listTokens))
		r.With(admin...).Post("/tokens", h(a.createToken))
		r.With(admin...).Delete("/tokens/{id}", h(a.revokeToken))
	})
	r.NotFound(rd.NotFound)
	r.MethodNotAllowed(rd.MethodNotAllowed)
	return r
}
