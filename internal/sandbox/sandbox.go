// Package sandbox runs a whole Landfall deployment in one process on
// loopback: a MASA on PostgreSQL behind its own TLS listener, registrar
// replicas sharing one PostgreSQL database (each with its public, internal
// and direct listeners, registered in the replica registry), and a
// TLS-terminating round-robin load balancer in front of the replicas,
// without stickiness. The demo (cmd/demo) and the end-to-end tests use it.
//
// Every component is the real one; only the wiring is compressed into one
// process. It is not a production deployment: certificates and keys are
// created fresh in a temporary directory and the load balancer is Go's
// reverse proxy, not nginx.
package sandbox

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/httpapi"
	"github.com/landfall-io/landfall/internal/pgcluster"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// Options configures a deployment.
type Options struct {
	MASADatabaseURL      string // empty databases, migrated here
	RegistrarDatabaseURL string
	// Embedded runs the MASA and one registrar on the embedded SQLite
	// store, as `masa serve` and `registrar serve` do without a database
	// URL; the database URLs are then unused and Replicas must be 0 or 1.
	Embedded     bool
	Approval     string // registrar.ApprovalAuto by default
	Replicas     int    // default 2
	Domain       string // default example.net
	Manufacturer string // default "Example Manufacturer"
	// RateLimit of new ATLS sessions per client address; the zero value
	// is the production default. A load generator is one client address
	// and sets its own.
	RateLimit atls.RateLimit
	Logger    *slog.Logger
	// AuditLog is the replicas' MASA audit-log check (RFC 8995 5.8); the
	// zero value is off, the production default.
	AuditLog registrar.AuditLogPolicy
	// MASAMiddleware, when set, wraps the MASA's device handler (a test
	// counting the requests the MASA serves).
	MASAMiddleware func(http.Handler) http.Handler
	// CoAP opens each replica's CoAP listener (registrar serve
	// --coap-listen) on a loopback UDP port: Deployment.CoAP.
	CoAP bool
}

// Deployment is a running sandbox.
type Deployment struct {
	MASAKeys   *masa.Keys
	MASA       *masa.Service
	MASAServer *httptest.Server
	// MASAAdmin is the MASA's factory and sales API (plain HTTP here),
	// with tokens of the factory and sales roles.
	MASAAdmin                *httptest.Server
	FactoryToken, SalesToken string
	OwnerID                  int64
	State                    *registrar.State
	Store                    *store.Store
	ManufacturerID           int64
	Replicas                 []*registrar.Registrar
	Direct                   []*httptest.Server // each replica's direct mutual-TLS listener
	Admin                    []*httptest.Server // each replica's admin listener (plain HTTP here)
	LB                       *httptest.Server   // the load balancer, https
	LBRequests               atomic.Int64
	// Publics are the replicas' plain-HTTP ATLS listeners, for a load
	// balancer of one's own (see StartNginx).
	Publics []*url.URL
	// CoAP are the replicas' CoAP listeners (Options.CoAP), in replica
	// order; nil otherwise.
	CoAP []*registrar.CoAPListener
	// DatabasePort is the port of the private PostgreSQL of
	// StartStandalone, 0 otherwise.
	DatabasePort int

	dir       string
	pool      *pgxpool.Pool
	lite      *sqldb.SQLiteDB // the registrar's embedded store (Options.Embedded)
	closers   []func()
	approval  string
	rateLimit atls.RateLimit
	auditLog  registrar.AuditLogPolicy
	coap      bool
	kills     []func() // per replica: stop it abruptly
}

// Start builds and starts a deployment. Close stops it.
func Start(ctx context.Context, o Options) (d *Deployment, err error) {
	switch {
	case o.Embedded && o.Replicas > 1:
		return nil, errors.New("sandbox: replicas need PostgreSQL: the embedded store serves one registrar")
	case o.Embedded:
		o.Replicas = 1
	case o.Replicas == 0:
		o.Replicas = 2
	}
	if o.Domain == "" {
		o.Domain = "example.net"
	}
	if o.Manufacturer == "" {
		o.Manufacturer = "Example Manufacturer"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d = &Deployment{approval: o.Approval, rateLimit: o.RateLimit, auditLog: o.AuditLog, coap: o.CoAP}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.dir, err = os.MkdirTemp("", "landfall-sandbox-"); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, func() { os.RemoveAll(d.dir) })
	if err := d.startMASA(ctx, o); err != nil {
		return nil, fmt.Errorf("sandbox: MASA: %w", err)
	}
	if err := d.prepareRegistrar(ctx, o); err != nil {
		return nil, fmt.Errorf("sandbox: registrar: %w", err)
	}
	var publics []*url.URL
	for i := range o.Replicas {
		pub, err := d.startReplica(fmt.Sprintf("replica-%c", 'a'+i), o.Logger)
		if err != nil {
			return nil, fmt.Errorf("sandbox: replica: %w", err)
		}
		publics = append(publics, pub)
	}
	d.Publics = publics
	d.LB = httptest.NewTLSServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(publics[d.LBRequests.Add(1)%int64(len(publics))])
			pr.SetXForwarded()
		},
		Transport: &failover{backends: publics, next: http.DefaultTransport},
		ErrorLog:  log.New(io.Discard, "", 0),
	})
	d.closers = append(d.closers, d.LB.Close)
	return d, nil
}

// failover passes a request to the next backend when its own cannot be
// connected to, as nginx's proxy_next_upstream does for requests not yet
// sent: a crashed replica costs the requests it held, not later ones.
type failover struct {
	backends []*url.URL
	next     http.RoundTripper
}

func (f *failover) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, 1<<20)); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	var lastErr error
	for i := range f.backends {
		out := r.Clone(r.Context())
		if i > 0 {
			out.URL.Host = f.backends[(indexOf(f.backends, r.URL.Host)+i)%len(f.backends)].Host
		}
		out.Body = io.NopCloser(bytes.NewReader(body))
		resp, err := f.next.RoundTrip(out)
		var oe *net.OpError
		if err == nil || !errors.As(err, &oe) || oe.Op != "dial" {
			return resp, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func indexOf(backends []*url.URL, host string) int {
	for i, b := range backends {
		if b.Host == host {
			return i
		}
	}
	return 0
}

// Close stops every component, newest first.
func (d *Deployment) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// Pool is the registrar database's pool; nil on the embedded store.
func (d *Deployment) Pool() *pgxpool.Pool { return d.pool }

// DB is the registrar's database, on either backend.
func (d *Deployment) DB() sqldb.DB {
	if d.lite != nil {
		return d.lite
	}
	return d.pool
}

func (d *Deployment) startMASA(ctx context.Context, o Options) error {
	keys, err := masa.InitKeys(filepath.Join(d.dir, "masa"), masa.InitOptions{Organization: o.Manufacturer, Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		return err
	}
	d.MASAKeys = keys
	mstore, err := openMASAStore(ctx, o, filepath.Join(d.dir, "masa", "masa.db"))
	if err != nil {
		return err
	}
	d.closers = append(d.closers, mstore.Close)
	d.MASAServer = httptest.NewUnstartedServer(nil)
	d.MASAServer.TLS = &tls.Config{Certificates: []tls.Certificate{keys.TLS}, ClientAuth: tls.RequestClientCert}
	d.MASAServer.StartTLS()
	d.closers = append(d.closers, d.MASAServer.Close)
	// The production configuration, as `masa serve` builds it with its
	// default options; only the URL and the log are this deployment's.
	cfg := masa.ConfigFromKeys(mstore, keys, d.MASAServer.URL)
	cfg.Logger = o.Logger
	if d.MASA, err = masa.New(cfg); err != nil {
		return err
	}
	d.MASAServer.Config.Handler = httpapi.DeviceHandler(d.MASA, httpapi.DeviceOptions{Logger: o.Logger})
	if o.MASAMiddleware != nil {
		d.MASAServer.Config.Handler = o.MASAMiddleware(d.MASAServer.Config.Handler)
	}
	d.MASAAdmin = httptest.NewServer(httpapi.AdminHandler(d.MASA, httpapi.AdminOptions{Logger: o.Logger}))
	d.closers = append(d.closers, d.MASAAdmin.Close)
	if _, d.FactoryToken, err = d.MASA.CreateToken(ctx, "factory line", masa.RoleFactory); err != nil {
		return err
	}
	if _, d.SalesToken, err = d.MASA.CreateToken(ctx, "sales", masa.RoleSales); err != nil {
		return err
	}
	return nil
}

// prepareRegistrar creates the registrar's state and database, registers
// the owner's domain at the MASA (the sale) and trusts the manufacturer.
func (d *Deployment) prepareRegistrar(ctx context.Context, o Options) error {
	stateDir := filepath.Join(d.dir, "registrar")
	err := registrar.InitState(stateDir, registrar.InitOptions{Domain: o.Domain,
		DNSNames: []string{"registrar." + o.Domain, "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		return err
	}
	if d.State, err = registrar.LoadState(stateDir); err != nil {
		return err
	}
	owner, err := d.MASA.CreateOwner(ctx, o.Domain, d.State.DomainRoot.Raw, "sandbox")
	if err != nil {
		return err
	}
	d.OwnerID = owner.ID
	if err := d.openRegistrarStore(ctx, o, stateDir); err != nil {
		return err
	}
	d.Store = store.New(d.DB())
	m, err := d.Store.CreateManufacturer(ctx, store.Manufacturer{
		Name: o.Manufacturer, IDevIDAnchor: d.MASAKeys.CACert.Raw, MASAAnchor: d.MASAKeys.CACert.Raw,
	}, "sandbox")
	if err != nil {
		return err
	}
	d.ManufacturerID = m.ID
	return nil
}

// startReplica runs one registrar replica with its listeners and returns
// the URL of its public (ATLS) listener.
func (d *Deployment) startReplica(id string, log *slog.Logger) (*url.URL, error) {
	ca, err := enroll.NewEmbeddedCA(d.State.DomainCA)
	if err != nil {
		return nil, err
	}
	// Only what this deployment decides is set here; every other field
	// keeps the production default registrar.New gives it, as in
	// `registrar serve`.
	cfg, err := d.onStore(registrar.Config{
		ReplicaID:      id,
		SessionKey:     d.State.SessionKey,
		ContextKey:     d.State.ContextKey,
		TLSCertificate: d.State.TLSCert,
		Approval:       d.approval,
		AuditLog:       d.auditLog,
		RateLimit:      d.rateLimit,
		// The in-process load balancer connects from loopback and names
		// the client in X-Forwarded-For, as nginx does in compose.
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		CA:             ca,
		ForwardClient:  d.State.ForwardClient(),
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	rg, err := registrar.New(cfg)
	if err != nil {
		return nil, err
	}
	internal := httptest.NewUnstartedServer(rg.InternalHandler())
	internal.TLS = d.State.InternalServerTLS()
	internal.StartTLS()
	d.closers = append(d.closers, internal.Close)
	iu, _ := url.Parse(internal.URL)
	if err := rg.Register(context.Background(), iu); err != nil {
		return nil, err
	}
	var coap *registrar.CoAPListener
	if d.coap {
		if coap, err = rg.ListenCoAP("127.0.0.1:0", atls.CoAPConfig{}); err != nil {
			return nil, err
		}
		go coap.Serve()
		d.CoAP = append(d.CoAP, coap)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rg.Run(ctx, iu) }()
	pub := httptest.NewServer(rg.PublicHandler())
	direct := httptest.NewUnstartedServer(rg.DeviceHandler())
	direct.TLS = rg.DirectTLSConfig()
	direct.StartTLS()
	adm := httptest.NewServer(rg.AdminHandler())
	var once sync.Once
	kill := func() {
		once.Do(func() {
			if coap != nil {
				coap.Close()
			}
			for _, s := range []*httptest.Server{pub, direct, internal, adm} {
				s.CloseClientConnections()
				s.Listener.Close()
			}
			cancel()
			<-done
			rg.Close()
			for _, s := range []*httptest.Server{pub, direct, internal, adm} {
				s.Close()
			}
		})
	}
	d.kills = append(d.kills, kill)
	d.closers = append(d.closers, kill)
	d.Replicas = append(d.Replicas, rg)
	d.Direct = append(d.Direct, direct)
	d.Admin = append(d.Admin, adm)
	return url.Parse(pub.URL)
}

// KillReplica stops replica i at once, as a crash would: its listeners
// close with requests in flight, and its sessions in handshake are lost.
func (d *Deployment) KillReplica(i int) { d.kills[i]() }

// NewDevice has the MASA mint an IDevID for serial, as a factory line
// would, and with owned assigns the device to the registrar's domain, as
// the sale would.
func (d *Deployment) NewDevice(ctx context.Context, serial string, owned bool) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: serial, CommonName: serial}}, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := d.MASA.IssueIDevID(ctx, masa.IssueRequest{CSR: csr, Actor: "factory"})
	if err != nil {
		return tls.Certificate{}, err
	}
	if owned {
		if _, err := d.MASA.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{serial}}, d.OwnerID, "sales"); err != nil {
			return tls.Certificate{}, err
		}
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// PledgeConfig is a pledge of mode reaching the deployment: the ATLS modes
// through the load balancer, direct mode at the first replica, coap-oscore
// at the first replica's CoAP listener (Options.CoAP).
func (d *Deployment) PledgeConfig(mode string, idevid tls.Certificate) pledge.Config {
	roots := x509.NewCertPool()
	roots.AddCert(d.MASAKeys.CACert)
	cfg := pledge.Config{
		RegistrarURL:        d.LB.URL,
		Mode:                mode,
		IDevID:              idevid,
		ManufacturerAnchors: roots,
		MASACerts:           []*x509.Certificate{d.MASAKeys.SignerCert},
		HTTP:                d.LB.Client(),
		MaxWait:             time.Minute,
	}
	if mode == pledge.ModeDirect {
		cfg.RegistrarURL = d.Direct[0].URL
	}
	if mode == pledge.ModeCoAPOSCORE && len(d.CoAP) > 0 {
		// No UDP balancer here: the first replica's CoAP listener.
		cfg.RegistrarURL = "coap://" + d.CoAP[0].Addr().String()
	}
	return cfg
}

// StartStandalone starts a deployment on a private PostgreSQL cluster of
// its own (internal/pgcluster), for the demo and load runs. Close stops
// both.
func StartStandalone(ctx context.Context, o Options) (*Deployment, error) {
	cluster, err := pgcluster.NewCluster(ctx)
	if err != nil {
		return nil, err
	}
	if o.MASADatabaseURL, err = cluster.CreateDatabase(ctx, "masa"); err == nil {
		o.RegistrarDatabaseURL, err = cluster.CreateDatabase(ctx, "registrar")
	}
	if err != nil {
		cluster.Destroy()
		return nil, err
	}
	d, err := Start(ctx, o)
	if err != nil {
		cluster.Destroy()
		return nil, err
	}
	d.closers = append([]func(){cluster.Destroy}, d.closers...)
	d.DatabasePort = cluster.Port()
	return d, nil
}
