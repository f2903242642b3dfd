package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/replica"
	"github.com/landfall-io/landfall/migrations"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// serveConfig is every option of `registrar serve`.
type serveConfig struct {
	databaseURL, stateDir, replicaID                        string
	listenPublic, listenDirect, listenInternal, listenAdmin string
	coapListen                                              string
	internalURL, atlsPath                                   string
	maxHandshakes, maxHandshakesPerClient                   int
	ratePerSecond                                           float64
	rateBurst                                               int
	trustedProxies                                          string
	caMode, stepURL, stepFingerprint, stepProvisioner       string
	stepPasswordFile                                        string
	certValidity                                            time.Duration
	channelBinding                                          bool
	omitTransferEncoding                                    bool
	approvalRetry                                           time.Duration
	approval                                                string
	masaTimeout                                             time.Duration
	auditLogMode, auditLogAllowedDomains                    string
	auditLogAllowNonceless                                  bool
	auditLogMaxVouchers                                     int
	masaAttempts                                            int
	logLevel                                                string
	dbMaxConns                                              int
	migrate                                                 bool
	shutdownGrace                                           time.Duration
}

func serveFlags(stdout io.Writer) (*serveConfig, func(args []string, getenv func(string) string) error) {
	c := &serveConfig{}
	fs := newFlagSet("serve", "usage: registrar [serve] [options]\n\nRuns one registrar replica: ATLS behind the load balancer, direct mutual TLS,\nthe internal listener for replica-to-replica forwarding, and the admin listener.", stdout)
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL URL, postgres://..., shared by every replica; empty: one registrar on the embedded SQLite store <state-dir>/"+embeddedFile)
	fs.StringVar(&c.stateDir, "state-dir", "/var/lib/landfall/registrar", "directory written by `registrar init`")
	fs.StringVar(&c.replicaID, "replica-id", "", "this replica's id in ATLS session ids, at most 16 bytes, unique per replica; default: a prefix of the host name and 8 random characters, new at each start (a live duplicate is refused)")
	fs.StringVar(&c.listenPublic, "listen-public", ":8080", "address of the plain-HTTP ATLS listener behind the TLS-terminating load balancer")
	fs.StringVar(&c.listenDirect, "listen-direct", ":8443", "address of the direct mutual-TLS listener (RFC 8995 without a middlebox); empty disables it")
	fs.StringVar(&c.listenInternal, "listen-internal", ":8444", "address of the internal listener other replicas forward ATLS flights to (mutual TLS with the registrar certificate)")
	fs.StringVar(&c.internalURL, "internal-url", "", "URL other replicas reach the internal listener at, e.g. https://10.0.0.5:8444 (required with --database-url)")
	fs.StringVar(&c.listenAdmin, "listen-admin", "127.0.0.1:9090", "address of the admin listener (health, readiness, admin API)")
	fs.StringVar(&c.coapListen, "coap-listen", "", "UDP address of the CoAP listener (ATLS over CoAP, then OSCORE natively over CoAP to the constrained resources, profile 7), e.g. :5683; empty disables it")
	fs.StringVar(&c.atlsPath, "atls-path", atls.DefaultPath, "public path of the ATLS resource, when the load balancer adds a prefix")
	fs.IntVar(&c.maxHandshakes, "max-handshakes", 1024, "ATLS sessions still in handshake this replica holds at once (503 beyond)")
	fs.IntVar(&c.maxHandshakesPerClient, "max-handshakes-per-client", atls.DefaultMaxHandshakesPerClient, "ATLS sessions still in handshake one client address holds at once (429 beyond); negative disables")
	fs.Float64Var(&c.ratePerSecond, "rate-limit", atls.DefaultRateLimit.PerSecond, "new ATLS sessions per second per client address (429 beyond); negative disables")
	fs.IntVar(&c.rateBurst, "rate-burst", atls.DefaultRateLimit.Burst, "burst of the per-client rate limit")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of the load balancers, whose X-Forwarded-For names the client (rate limits) and whose X-Forwarded-Proto marks the cookie Secure; never 0.0.0.0/0")
	fs.StringVar(&c.caMode, "ca-mode", "embedded", "embedded (domain CA key from the state directory) or remote (step-ca in RA mode)")
	fs.StringVar(&c.stepURL, "stepca-url", "", "remote step-ca URL (ca-mode remote)")
	fs.StringVar(&c.stepFingerprint, "stepca-fingerprint", "", "SHA-256 fingerprint (hex) of the step-ca root (ca-mode remote)")
	fs.StringVar(&c.stepProvisioner, "stepca-provisioner", "", "JWK provisioner name on the step-ca (ca-mode remote)")
	fs.StringVar(&c.stepPasswordFile, "stepca-password-file", "", "file holding the JWK provisioner's password (ca-mode remote)")
	fs.DurationVar(&c.certValidity, "cert-validity", enroll.DefaultValidity, "validity of issued domain certificates")
	fs.BoolVar(&c.channelBinding, "require-channel-binding", false, "require CSRs to carry the session's tls-exporter value as challengePassword (RFC 9266)")
	fs.BoolVar(&c.omitTransferEncoding, "est-omit-transfer-encoding", false, "leave Content-Transfer-Encoding: base64 off EST answers (RFC 8951); only when no pledge relies on it, as RFC 7030 clients before errata 5107 do")
	fs.DurationVar(&c.approvalRetry, "approval-retry-after", registrar.DefaultApprovalRetryAfter, "Retry-After sent to pledges held for approval")
	fs.StringVar(&c.approval, "approval", registrar.ApprovalAuto, "auto (every pledge of a trusted manufacturer), allow-list (listed pledges; others wait for an operator) or manual")
	fs.StringVar(&c.auditLogMode, "audit-log-check", string(registrar.AuditLogOff), "the MASA audit-log check after a pledge accepts its voucher (RFC 8995 5.8): off, warn (record, count, log) or enforce (warn, and refuse EST until an operator approves a flagged pledge)")
	fs.StringVar(&c.auditLogAllowedDomains, "audit-log-allowed-domains", "", "comma-separated domainIDs (base64, as the audit log writes them) of other domains the check does not count as prior owners")
	fs.BoolVar(&c.auditLogAllowNonceless, "audit-log-allow-nonceless", false, "do not flag nonceless vouchers in the audit log")
	fs.IntVar(&c.auditLogMaxVouchers, "audit-log-max-vouchers", 0, "flag a device whose audit log reports more vouchers than this; 0: no limit")
	fs.DurationVar(&c.masaTimeout, "masa-timeout", registrar.DefaultMASATimeout, "timeout of one voucher-request to a MASA")
	fs.IntVar(&c.masaAttempts, "masa-attempts", registrar.DefaultMASAAttempts, "attempts at reaching a MASA before the pledge is told to retry later")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&c.dbMaxConns, "db-max-conns", 20, "PostgreSQL connections of this replica (--database-url)")
	fs.BoolVar(&c.migrate, "migrate", true, "apply the database schema at start-up")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 15*time.Second, "how long shutdown waits for requests in flight")
	return c, func(args []string, getenv func(string) string) error { return cli.Parse(fs, args, envPrefix, getenv) }
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	c, parse := serveFlags(stdout)
	if err := parse(args, getenv); err != nil {
		return err
	}
	log, err := newLogger(stderr, c.logLevel)
	if err != nil {
		return err
	}
	if c.databaseURL != "" && c.internalURL == "" {
		return errors.New("--internal-url is required with --database-url: other replicas forward ATLS flights to it")
	}
	if c.internalURL == "" {
		c.internalURL = loopbackURL(c.listenInternal)
	}
	if c.replicaID == "" {
		host, _ := os.Hostname()
		c.replicaID = replica.DefaultID(host)
	}
	internalURL, err := url.Parse(c.internalURL)
	if err != nil {
		return fmt.Errorf("--internal-url: %w", err)
	}
	proxies, err := parsePrefixes(c.trustedProxies)
	if err != nil {
		return err
	}
	st, err := registrar.LoadState(c.stateDir)
	if err != nil {
		return err
	}
	ca, err := newCA(ctx, c, st)
	if err != nil {
		return err
	}
	cfg, closeStore, err := c.openStore(ctx, c.registrarConfig(st, proxies, ca, log), log)
	if err != nil {
		return err
	}
	defer closeStore()
	rg, err := registrar.New(cfg)
	if err != nil {
		return err
	}
	defer rg.Close()

	servers := []*listener{
		{name: "public", addr: c.listenPublic, handler: rg.PublicHandler()},
		{name: "internal", addr: c.listenInternal, handler: rg.InternalHandler(), tls: st.InternalServerTLS()},
		{name: "admin", addr: c.listenAdmin, handler: rg.AdminHandler()},
	}
	if c.listenDirect != "" {
		servers = append(servers, &listener{name: "direct", addr: c.listenDirect, handler: rg.DeviceHandler(), tls: rg.DirectTLSConfig()})
	}
	if err := rg.Register(ctx, internalURL); err != nil {
		return err
	}
	// On shutdown the replica first drains: no new ATLS sessions (the load
	// balancer's other replicas take them), handshakes in progress may
	// finish, then the listeners stop, letting requests in flight end.
	serveCtx, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	go func() {
		<-ctx.Done()
		rg.ATLS().Drain()
		// Only handshakes still progressing hold the shutdown; abandoned
		// half-open sessions do not.
		graceCtx, cancel := context.WithTimeout(context.Background(), c.shutdownGrace)
		rg.ATLS().WaitHandshakes(graceCtx)
		cancel()
		stopServing()
	}()
	g, gctx := errgroup.WithContext(serveCtx)
	for _, s := range servers {
		if err := s.listen(); err != nil {
			return err
		}
		log.Info("listening", "listener", s.name, "addr", s.ln.Addr().String())
		g.Go(func() error { return s.serve(gctx, c.shutdownGrace, log) })
	}
	if c.coapListen != "" {
		if err := serveCoAP(gctx, g, rg, c.coapListen, log); err != nil {
			return err
		}
	}
	g.Go(func() error { return rg.Run(gctx, internalURL) })
	log.Info("registrar replica running", "replica", c.replicaID)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// openStore puts the registrar's state on PostgreSQL (--database-url, any
// number of replicas) or, without one, on the embedded SQLite file in the
// state directory (one registrar), migrating it first unless --migrate=false.
func (c *serveConfig) openStore(ctx context.Context, cfg registrar.Config, log *slog.Logger) (registrar.Config, func(), error) {
	if c.databaseURL == "" {
		db, v, err := registrar.OpenEmbedded(ctx, c.stateDir, c.migrate)
		if err != nil {
			return cfg, nil, err
		}
		if c.migrate {
			log.Info("database schema", "version", v, "backend", "sqlite")
		}
		log.Info("store", "backend", "sqlite", "path", db.Path())
		cfg, err = registrar.OnSQLite(cfg, db)
		return cfg, func() { db.Close() }, err
	}
	if c.migrate {
		v, err := migrations.Up(c.databaseURL, migrations.RegistrarSchema)
		if err != nil {
			return cfg, nil, err
		}
		log.Info("database schema", "version", v)
	}
	poolCfg, err := pgxpool.ParseConfig(c.databaseURL)
	if err != nil {
		return cfg, nil, err
	}
	poolCfg.MaxConns = int32(c.dbMaxConns)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return cfg, nil, err
	}
	log.Info("store", "backend", "postgresql", "host", poolCfg.ConnConfig.Host, "database", poolCfg.ConnConfig.Database)
	cfg, err = registrar.OnPostgreSQL(cfg, pool)
	return cfg, pool.Close, err
}

// loopbackURL is the internal URL of a single registrar: nobody else
// forwards to it, but it registers like any replica.
func loopbackURL(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		port = "8444"
	}
	return "https://" + net.JoinHostPort("127.0.0.1", port)
}

// registrarConfig is the replica's configuration from the options, the
// state directory and the CA backend; OnPostgreSQL adds the stores.
func (c *serveConfig) registrarConfig(st *registrar.State, proxies []netip.Prefix, ca enroll.CA, log *slog.Logger) registrar.Config {
	return registrar.Config{
		ReplicaID:              c.replicaID,
		SessionKey:             st.SessionKey,
		ContextKey:             st.ContextKey,
		TLSCertificate:         st.TLSCert,
		Approval:               c.approval,
		MASA:                   registrar.MASAClient{Timeout: c.masaTimeout, Attempts: c.masaAttempts},
		ATLSPath:               c.atlsPath,
		CSRPolicy:              enroll.CSRPolicy{RequireSerialNumber: true, RequireChannelBinding: c.channelBinding},
		ApprovalRetryAfter:     c.approvalRetry,
		MaxHandshakes:          c.maxHandshakes,
		MaxHandshakesPerClient: c.maxHandshakesPerClient,
		RateLimit:              atls.RateLimit{PerSecond: c.ratePerSecond, Burst: c.rateBurst},
		TrustedProxies:         proxies,
		CA:                     ca,
		ForwardClient:          st.ForwardClient(),
		Logger:                 log,

		ESTOmitTransferEncoding: c.omitTransferEncoding,
		AuditLog: registrar.AuditLogPolicy{
			Mode:             registrar.AuditLogMode(c.auditLogMode),
			AllowedDomainIDs: splitList(c.auditLogAllowedDomains),
			AllowNonceless:   c.auditLogAllowNonceless,
			MaxVouchers:      c.auditLogMaxVouchers,
		},
	}
}

// newCA builds the EST backend the configuration names.
func newCA(ctx context.Context, c *serveConfig, st *registrar.State) (enroll.CA, error) {
	profile := enroll.IssuanceProfile{Validity: c.certValidity}
	switch c.caMode {
	case "embedded":
		cfg := st.DomainCA
		cfg.Profile = profile
		return enroll.NewEmbeddedCA(cfg)
	case "remote":
		pw, err := os.ReadFile(c.stepPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("--stepca-password-file: %w", err)
		}
		return enroll.NewRemoteCA(ctx, enroll.RemoteConfig{
			URL: c.stepURL, RootFingerprint: c.stepFingerprint, Provisioner: c.stepProvisioner,
			ProvisionerPassword: []byte(strings.TrimSpace(string(pw))), Profile: profile,
		})
	}
	return nil, fmt.Errorf("--ca-mode must be embedded or remote, not %q", c.caMode)
}

// listener is one of the replica's HTTP listeners.
type listener struct {
	name, addr string
	handler    http.Handler
	tls        *tls.Config
	ln         net.Listener
}

func (l *listener) listen() error {
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", l.name, err)
	}
	if l.tls != nil {
		ln = tls.NewListener(ln, l.tls)
	}
	l.ln = ln
	return nil
}

// serve runs until ctx ends, then shuts down gracefully: requests in flight
// (ATLS flights among them) finish within grace.
func (l *listener) serve(ctx context.Context, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           l.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s listener: %w", l.name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return srv.Shutdown(sctx)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range splitList(s) {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %w", err)
		}
		out = append(out, pfx)
	}
	return out, nil
}

// serveCoAP opens the replica's CoAP listener on the UDP address addr and
// serves it in g until ctx ends, when the socket is closed.
func serveCoAP(ctx context.Context, g *errgroup.Group, rg *registrar.Registrar, addr string, log *slog.Logger) error {
	cl, err := rg.ListenCoAP(addr, atls.CoAPConfig{})
	if err != nil {
		return fmt.Errorf("coap listener: %w", err)
	}
	log.Info("listening", "listener", "coap", "addr", cl.Addr().String())
	g.Go(func() error {
		if err := cl.Serve(); err != nil && ctx.Err() == nil {
			return fmt.Errorf("coap listener: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		cl.Close()
		return nil
	})
	return nil
}
