package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/httpapi"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// serveOptions is every option of `masa serve`.
type serveOptions struct {
	*common
	listen, adminListen string
	adminTLS            bool
	clientAuth          string
	contentType         string
	maxBody, maxImport  int64
	maxInFlight         int
	retryAfter          time.Duration
	auditLogLimit       int
	migrate             bool
	shutdownTimeout     time.Duration
}

func serveFlags(stdout io.Writer) (*flag.FlagSet, *serveOptions) {
	fs, c := newFlagSet("serve", topUsage+"\nserve: runs the device-facing HTTPS listener and the admin listener until SIGTERM.", stdout)
	o := &serveOptions{common: c}
	fs.StringVar(&o.listen, "listen", ":8443", "device-facing HTTPS listener (requestvoucher, requestauditlog)")
	fs.StringVar(&o.adminListen, "admin-listen", "127.0.0.1:8080", "admin API, health and readiness listener")
	fs.BoolVar(&o.adminTLS, "admin-tls", false, "serve the admin listener over TLS with the device listener's certificate")
	fs.StringVar(&o.clientAuth, "client-auth", "optional", "registrar TLS client certificates: optional (requested; needed for nonceless vouchers), require (every voucher-request; must chain to the owner's domain CA) or none")
	fs.StringVar(&o.contentType, "voucher-content-type", "voucher", "eContentType of issued vouchers: voucher (id-ct-animaJSONVoucher) or data (id-data)")
	fs.Int64Var(&o.maxBody, "max-body", 64<<10, "largest voucher-request or admin JSON body, bytes")
	fs.IntVar(&o.maxInFlight, "max-inflight", 256, "most concurrent device requests; more get 503 with Retry-After")
	fs.Int64Var(&o.maxImport, "max-import", 32<<20, "largest device import body, bytes")
	fs.DurationVar(&o.retryAfter, "retry-after", masa.DefaultRetryAfter, "Retry-After sent with 202 when no owner is recorded yet")
	fs.IntVar(&o.auditLogLimit, "audit-log-limit", masa.DefaultAuditLogLimit, "most events in one audit log response (older ones are counted as truncated)")
	fs.BoolVar(&o.migrate, "migrate", true, "apply PostgreSQL migrations at start-up (the embedded store is always brought to this binary's schema)")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "grace period for in-flight requests on SIGTERM")
	return fs, o
}

// serviceConfig is the masa.Config serve runs: the production
// configuration of the keys (masa.ConfigFromKeys) with what the options
// change. With default options it is what the sandbox runs.
func (o *serveOptions) serviceConfig(store masa.Store, keys *masa.Keys, log *slog.Logger) (masa.Config, error) {
	cfg := masa.ConfigFromKeys(store, keys, o.masaURL)
	switch o.contentType {
	case "voucher", "":
		cfg.Signer.ContentType = voucher.OIDAnimaJSONVoucher
	case "data":
		cfg.Signer.ContentType = voucher.OIDData
	default:
		return masa.Config{}, errors.New("voucher-content-type must be voucher or data")
	}
	if _, err := o.tlsClientAuth(); err != nil {
		return masa.Config{}, err
	}
	cfg.RequireRegistrarTLS = o.clientAuth == "require"
	cfg.RetryAfter = o.retryAfter
	cfg.AuditLogLimit = o.auditLogLimit
	cfg.Logger = log
	return cfg, nil
}

// tlsClientAuth is the device listener's request for registrar TLS client
// certificates. The service verifies them against the owner's domain CA
// (RFC 8995 5.5.6), which TLS cannot know before it sees the request.
func (o *serveOptions) tlsClientAuth() (tls.ClientAuthType, error) {
	switch o.clientAuth {
	case "optional":
		return tls.RequestClientCert, nil
	case "require":
		return tls.RequireAnyClientCert, nil
	case "none":
		return tls.NoClientCert, nil
	}
	return 0, errors.New("client-auth must be optional, require or none")
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, o := serveFlags(stdout)
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	log, err := newLogger(stderr, o.logLevel)
	if err != nil {
		return err
	}
	keys, err := o.loadKeys()
	if err != nil {
		return err
	}
	store, err := o.openServing(ctx, o.migrate, log)
	if err != nil {
		return err
	}
	defer store.Close()
	cfg, err := o.serviceConfig(store, keys, log)
	if err != nil {
		return err
	}
	svc, err := masa.New(cfg)
	if err != nil {
		return err
	}
	clientAuth, _ := o.tlsClientAuth() // checked by serviceConfig
	metrics := httpapi.NewMetrics()
	device := &http.Server{
		Handler:           httpapi.DeviceHandler(svc, httpapi.DeviceOptions{MaxBody: o.maxBody, MaxInFlight: o.maxInFlight, Logger: log, Metrics: metrics}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{keys.TLS}, MinVersion: tls.VersionTLS12, ClientAuth: clientAuth},
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	admin := &http.Server{
		Handler:           httpapi.AdminHandler(svc, httpapi.AdminOptions{MaxBody: o.maxBody * 16, MaxImport: o.maxImport, Logger: log, Metrics: metrics}),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	dl, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	al, err := net.Listen("tcp", o.adminListen)
	if err != nil {
		dl.Close()
		return err
	}
	if o.adminTLS {
		al = tls.NewListener(al, &tls.Config{Certificates: []tls.Certificate{keys.TLS}, MinVersion: tls.VersionTLS12})
	}
	log.Info("masa serving", "listen", dl.Addr().String(), "admin-listen", al.Addr().String(), "store", o.storeName())
	errc := make(chan error, 2)
	go func() { errc <- device.ServeTLS(dl, "", "") }()
	go func() { errc <- admin.Serve(al) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("listener failed", "err", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	return errors.Join(device.Shutdown(sctx), admin.Shutdown(sctx))
}
