package registrar

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/registrar/replica"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/requestid"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// Config is what the registrar is built from; cmd/registrar fills it from
// flags, environment and YAML.
type Config struct {
	// ReplicaID names this replica in ATLS session ids (at most 16 bytes).
	ReplicaID string
	// SessionKey authenticates ATLS session ids; ContextKey (32 bytes)
	// seals exported OSCORE/COSE secrets in PostgreSQL. Every replica of a
	// deployment shares both.
	SessionKey []byte
	ContextKey []byte
	// TLSCertificate is the registrar's certificate, chained to the domain
	// CA; it is presented in ATLS and direct TLS alike (DESIGN decision 4).
	TLSCertificate tls.Certificate
	// RACertificate signs registrar voucher-requests (id-kp-cmcRA, RFC 8995
	// 5.5) and authenticates the registrar to MASAs that ask; default
	// TLSCertificate, which MASAs expect since the pledge pinned it.
	RACertificate tls.Certificate
	// ATLSPath is the public path of the ATLS resource.
	ATLSPath string
	// Approval is ApprovalAuto, ApprovalAllowList or ApprovalManual.
	Approval string
	// MASA configures the MASAClient that is the VoucherSource when none
	// is given; MASARetryAfter is what a pledge is told when the MASA
	// cannot be reached.
	MASA           MASAClient
	MASARetryAfter time.Duration
	// CSRPolicy is what EST requires of CSRs. RequireSerialNumber is always
	// on: a domain certificate names the serial number of the IDevID that
	// asked for it (RFC 8995 5.9.2).
	CSRPolicy enroll.CSRPolicy
	// ESTOmitTransferEncoding leaves "Content-Transfer-Encoding: base64"
	// off EST answers (enroll.WithoutTransferEncoding). The zero value
	// sends it: RFC 7030 clients older than errata 5107 require it.
	ESTOmitTransferEncoding bool
	// ApprovalRetryAfter is the Retry-After of a pledge held for approval.
	ApprovalRetryAfter time.Duration
	// AuditLog is the check of the MASA audit log after a pledge's voucher
	// status (RFC 8995 5.8, auditcheck.go); the zero value is off.
	// AuditLogSource fetches the logs; nil is the VoucherSource when it
	// can (the MASAClient).
	AuditLog       AuditLogPolicy
	AuditLogSource AuditLogSource

	// MaxHandshakes caps this replica's sessions in handshake, and
	// MaxHandshakesPerClient those of one client address; RateLimit
	// bounds new sessions per client address (zero values: pkg/atls's
	// defaults). TrustedProxies are the load balancers whose
	// X-Forwarded-For names the client.
	MaxHandshakes          int
	MaxHandshakesPerClient int
	RateLimit              atls.RateLimit
	TrustedProxies         []netip.Prefix

	// Store is the registrar's state (pledges, exchanges, certificates,
	// manufacturers), also served by the admin API; Contexts is the ATLS
	// context store and CID allocator; Replicas the replica registry.
	// OnPostgreSQL fills all three from one pool.
	Store    *store.Store
	Contexts ContextStore
	Replicas ReplicaRegistry
	// VoucherSource obtains vouchers from MASAs (RFC 8995 5.5, 5.6);
	// nil is the MASAClient configured by MASA.
	VoucherSource VoucherSource
	// CA is the EST backend (RFC 7030) that issues domain certificates.
	CA enroll.CA
	// ForwardClient carries flights of sessions other replicas own to
	// them (mutual TLS between replicas is the caller's choice).
	ForwardClient *http.Client

	Now    func() time.Time
	Logger *slog.Logger
}

// Production defaults. `registrar serve` offers them as its flag defaults
// and New fills them into zero fields, so that every registrar, served,
// in the sandbox or in the demo, runs with the same values.
const (
	DefaultApprovalRetryAfter = 30 * time.Second
	DefaultMASARetryAfter     = 30 * time.Second
	DefaultMASATimeout        = 10 * time.Second
	DefaultMASAAttempts       = 3
	DefaultMASABackoff        = 500 * time.Millisecond
)

// Registrar is one replica's service graph.
type Registrar struct {
	cfg        Config
	log        *slog.Logger
	store      *store.Store // for the admin API only
	state      Records
	contexts   ContextStore
	replicas   ReplicaRegistry
	atls       *atls.Server
	est        *enroll.Server
	device     http.Handler
	tlsCertDER []byte
	raSigner   *voucher.Signer
	masa       VoucherSource
	anchors    *anchorCache
	metrics    *metrics
	ca         enroll.CA
	domain     domainTrust
}

// New builds a replica from cfg, whose Store, Contexts, Replicas and CA
// are required (OnPostgreSQL provides the first three). It is the one
// constructor of `registrar serve`, the sandbox and the demo.
func New(cfg Config) (*Registrar, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ATLSPath == "" {
		cfg.ATLSPath = atls.DefaultPath
	}
	if cfg.ApprovalRetryAfter == 0 {
		cfg.ApprovalRetryAfter = DefaultApprovalRetryAfter
	}
	cfg.CSRPolicy.RequireSerialNumber = true
	if cfg.MASARetryAfter == 0 {
		cfg.MASARetryAfter = DefaultMASARetryAfter
	}
	if cfg.MASA.Timeout == 0 {
		cfg.MASA.Timeout = DefaultMASATimeout
	}
	if cfg.MASA.Attempts == 0 {
		cfg.MASA.Attempts = DefaultMASAAttempts
	}
	if cfg.MASA.Backoff == 0 {
		cfg.MASA.Backoff = DefaultMASABackoff
	}
	// The ATLS limits as the server will enforce them, so that Config()
	// reports what runs.
	if cfg.MaxHandshakes == 0 {
		cfg.MaxHandshakes = atls.DefaultMaxHandshakes
	}
	if cfg.MaxHandshakesPerClient == 0 {
		cfg.MaxHandshakesPerClient = atls.DefaultMaxHandshakesPerClient
	}
	cfg.RateLimit = cfg.RateLimit.WithDefaults()
	if err := cfg.AuditLog.validate(); err != nil {
		return nil, err
	}
	switch cfg.Approval {
	case "":
		cfg.Approval = ApprovalAuto
	case ApprovalAuto, ApprovalAllowList, ApprovalManual:
	default:
		return nil, fmt.Errorf("registrar: unknown approval mode %q", cfg.Approval)
	}
	if len(cfg.TLSCertificate.Certificate) == 0 {
		return nil, errors.New("registrar: a TLS certificate is required")
	}
	if cfg.Store == nil || cfg.Contexts == nil || cfg.Replicas == nil || cfg.CA == nil {
		return nil, errors.New("registrar: a store, a context store, a replica registry and a CA are required")
	}
	if len(cfg.RACertificate.Certificate) == 0 {
		cfg.RACertificate = cfg.TLSCertificate
	}
	raSigner, err := newRASigner(cfg.RACertificate)
	if err != nil {
		return nil, err
	}
	rg := &Registrar{
		cfg:        cfg,
		log:        cfg.Logger,
		store:      cfg.Store,
		state:      cfg.Store,
		contexts:   cfg.Contexts,
		replicas:   cfg.Replicas,
		tlsCertDER: cfg.TLSCertificate.Certificate[0],
		raSigner:   raSigner,
		masa:       cfg.VoucherSource,
		anchors:    newAnchorCache(),
		ca:         cfg.CA,
	}
	if rg.masa == nil {
		mc := &MASAClient{ClientCert: cfg.MASA.ClientCert, Timeout: cfg.MASA.Timeout, Attempts: cfg.MASA.Attempts, Backoff: cfg.MASA.Backoff, clients: &clientCache{}}
		if mc.ClientCert == nil {
			mc.ClientCert = &cfg.RACertificate
		}
		rg.masa = mc
	}
	if rg.est, err = rg.newEST(cfg.CA); err != nil {
		return nil, err
	}
	rg.device = rg.deviceRoutes()
	rg.atls, err = atls.NewServer(atls.ServerConfig{
		TLS:                    rg.deviceTLSConfig(),
		Handler:                rg.device,
		Contexts:               rg.contexts,
		CIDs:                   rg.contexts,
		SessionKey:             cfg.SessionKey,
		ReplicaID:              cfg.ReplicaID,
		Forwarder:              &atls.HTTPForwarder{Self: cfg.ReplicaID, Client: cfg.ForwardClient, Resolve: rg.resolveReplica},
		VerifyPeer:             rg.verifyPeer,
		Path:                   cfg.ATLSPath,
		MaxHandshakes:          cfg.MaxHandshakes,
		MaxHandshakesPerClient: cfg.MaxHandshakesPerClient,
		RateLimit:              cfg.RateLimit,
		TrustedProxies:         cfg.TrustedProxies,
		Now:                    cfg.Now,
		Logger:                 cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	rg.metrics = newMetrics(rg)
	return rg, nil
}

// deviceTLSConfig is the TLS configuration of the pledge-facing sessions,
// inner ATLS and (with the one change DirectTLSConfig makes) direct: the
// registrar certificate, and a client certificate (the IDevID) required
// but checked by the registrar against its trusted manufacturers, which
// live in the database.
func (rg *Registrar) deviceTLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{rg.cfg.TLSCertificate},
		ClientAuth:   tls.RequireAnyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

// newRASigner is the CMS signer of registrar voucher-requests: the RA
// certificate must carry id-kp-cmcRA, or MASAs refuse it (RFC 8995 5.5).
func newRASigner(pair tls.Certificate) (*voucher.Signer, error) {
	if len(pair.Certificate) == 0 {
		return nil, errors.New("registrar: an RA certificate is required")
	}
	var chain []*x509.Certificate
	for _, der := range pair.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("registrar: RA certificate: %w", err)
		}
		chain = append(chain, c)
	}
	hasRA := false
	for _, o := range chain[0].UnknownExtKeyUsage {
		hasRA = hasRA || o.Equal(OIDCmcRA)
	}
	if !hasRA {
		return nil, errors.New("registrar: the RA certificate lacks id-kp-cmcRA")
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("registrar: the RA key cannot sign")
	}
	return &voucher.Signer{Cert: chain[0], Key: key, Chain: chain[1:]}, nil
}

// DirectTLSConfig is the TLS configuration of the direct listener (RFC 8995
// without a middlebox). Unlike the ATLS inner sessions, it lets a client
// without a certificate complete the handshake, for /cacerts (RFC 7030
// section 4.1.1); requireClientCert refuses that client everything else.
// A certificate given is still checked by the registrar, not by TLS (the
// trusted manufacturers live in the database), and TLS still verifies the
// client's proof of possession of its key.
func (rg *Registrar) DirectTLSConfig() *tls.Config {
	cfg := rg.deviceTLSConfig()
	cfg.ClientAuth = tls.RequestClientCert
	return cfg
}

// deviceRoutes are the pledge-facing resources: BRSKI and EST. They serve
// inner ATLS requests and direct TLS requests alike.
func (rg *Registrar) deviceRoutes() http.Handler {
	r := chi.NewRouter()
	r.Use(rg.observe, rg.requireClientCert)
	r.Post(voucher.PathRequestVoucher, rg.requestVoucher)
	r.Post(voucher.PathVoucherStatus, rg.voucherStatus)
	r.Post(voucher.PathEnrollStatus, rg.enrollStatus)
	rg.constrainedRoutes(r) // cBRSKI and EST-coaps short names, /.well-known/core
	r.Handle(enroll.DefaultPathPrefix+"/*", estPeer(rg.est))
	return r
}

// resolveReplica finds another replica's internal listener for the ATLS
// forwarder: a replica missing from the registry is gone (its sessions are
// lost, 404); a registry that cannot be read is a passing failure (503,
// its cause logged with the request id).
func (rg *Registrar) resolveReplica(ctx context.Context, id string) (*url.URL, error) {
	u, err := rg.replicas.Resolve(ctx, id)
	switch {
	case errors.Is(err, replica.ErrUnknown):
		return nil, fmt.Errorf("%w: %v", atls.ErrUnknownOwner, err)
	case err != nil:
		rg.log.ErrorContext(ctx, "ATLS session owner unresolved", "request_id", requestid.From(ctx), "owner", id, "err", err)
	}
	return u, err
}

// DeviceHandler serves the direct mutual-TLS listener.
func (rg *Registrar) DeviceHandler() http.Handler { return rg.device }

// PublicHandler serves the listener behind the load balancer: the ATLS
// resource, each outer request with its request id (internal/requestid).
func (rg *Registrar) PublicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(rg.cfg.ATLSPath, requestid.Middleware(rg.atls))
	return mux
}

// InternalHandler serves flights other replicas forward to this one.
func (rg *Registrar) InternalHandler() http.Handler { return rg.PublicHandler() }

// Store is the registrar's state, for the admin API.
func (rg *Registrar) Store() *store.Store { return rg.store }

// ATLS is the replica's ATLS server, for metrics.
func (rg *Registrar) ATLS() *atls.Server { return rg.atls }

// Register records this replica in the registry, so that others can
// forward to it. Call it before the public listener accepts requests: a
// flight forwarded to an unregistered owner is answered 404.
func (rg *Registrar) Register(ctx context.Context, internalURL *url.URL) error {
	return rg.replicas.Register(ctx, rg.cfg.ReplicaID, internalURL)
}

// Run registers the replica and keeps its heartbeat, and sweeps expired
// sessions and contexts, until ctx ends.
func (rg *Registrar) Run(ctx context.Context, internalURL *url.URL) error {
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				rg.atls.Sweep()
				if _, err := rg.contexts.Sweep(ctx); err != nil && ctx.Err() == nil {
					rg.log.Warn("sweeping expired contexts", "err", err)
				}
			}
		}
	}()
	return rg.replicas.Run(ctx, rg.cfg.ReplicaID, internalURL)
}

// Close ends every ATLS session this replica holds.
func (rg *Registrar) Close() { rg.atls.Close() }

// Config is the replica's effective configuration: what it was built from,
// with every default filled in.
func (rg *Registrar) Config() Config { return rg.cfg }
