package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/httpapi"
	"github.com/landfall-io/landfall/internal/masa/pgstore"
	"github.com/landfall-io/landfall/migrations"
	"github.com/landfall-io/landfall/pkg/voucher"
)

var errHelp = errors.New("help shown")

// newFlags builds a subcommand's flag set with --help printing its usage.
func newFlags(name, synopsis string, stdout io.Writer, c *config, extra func(*flag.FlagSet)) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	commonFlags(fs, c)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = usage(stdout, fs, synopsis)
	return fs
}

func parse(fs *flag.FlagSet, c *config, args []string, getenv func(string) string) error {
	err := parseFlags(fs, c, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return err
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// openService builds the service graph: store (after migrating when asked),
// keys, service.
func openService(ctx context.Context, c *config, migrate bool, log *slog.Logger) (*masa.Service, *pgstore.Store, *masa.Keys, error) {
	if c.DatabaseURL == "" {
		return nil, nil, nil, errors.New("--database-url (LANDFALL_MASA_DATABASE_URL) is required")
	}
	if migrate {
		v, err := migrations.Up(c.DatabaseURL, migrations.MASASchema)
		if err != nil {
			return nil, nil, nil, err
		}
		log.Info("database schema", "version", v)
	}
	keys, err := masa.LoadKeys(c.KeyDir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("keys (run masa init?): %w", err)
	}
	store, err := pgstore.Open(ctx, c.DatabaseURL, int32(c.DBMaxConns))
	if err != nil {
		return nil, nil, nil, err
	}
	signer := &voucher.Signer{Cert: keys.SignerCert, Key: keys.SignerKey, ContentType: voucher.OIDAnimaJSONVoucher}
	switch c.ContentType {
	case "", "voucher":
	case "data":
		signer.ContentType = voucher.OIDData
	default:
		store.Close()
		return nil, nil, nil, fmt.Errorf("voucher-content-type must be voucher or data")
	}
	if !keys.SignerCert.Equal(keys.CACert) && keys.SignerCert.CheckSignatureFrom(keys.CACert) != nil {
		log.Warn("the voucher-signing certificate is not issued by the IDevID CA; pledges must be given its issuer")
	}
	svc, err := masa.New(masa.Config{
		Store: store, Signer: signer, IDevIDCA: keys.CACert, IDevIDKey: keys.CAKey, MASAURL: c.MASAURL,
		RetryAfter: c.RetryAfter, AuditLogLimit: c.AuditLogLimit, Logger: log,
		RequireRegistrarTLS: c.ClientAuth == "require",
	})
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	return svc, store, keys, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFlags("serve", topUsage+"\nserve: runs the device-facing HTTPS listener and the admin listener until SIGTERM.", stdout, &c, func(fs *flag.FlagSet) { serveFlags(fs, &c) })
	if err := parse(fs, &c, args, getenv); err != nil {
		return err
	}
	log, err := newLogger(stderr, c.LogLevel)
	if err != nil {
		return err
	}
	svc, store, keys, err := openService(ctx, &c, c.MigrateOnStart, log)
	if err != nil {
		return err
	}
	defer store.Close()

	tlsCfg := &tls.Config{Certificates: []tls.Certificate{keys.TLS}, MinVersion: tls.VersionTLS12}
	switch c.ClientAuth {
	case "optional":
		// Verified by the service against the owner's domain CA, which TLS
		// cannot know before it sees the request.
		tlsCfg.ClientAuth = tls.RequestClientCert
	case "require":
		tlsCfg.ClientAuth = tls.RequireAnyClientCert
	case "none":
	default:
		return fmt.Errorf("client-auth must be optional, require or none")
	}
	metrics := httpapi.NewMetrics()
	device := &http.Server{
		Handler:           httpapi.DeviceHandler(svc, httpapi.DeviceOptions{MaxBody: c.MaxBody, MaxInFlight: c.MaxInFlight, Logger: log, Metrics: metrics}),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	admin := &http.Server{
		Handler:           httpapi.AdminHandler(svc, httpapi.AdminOptions{MaxBody: c.MaxBody * 16, MaxImport: c.MaxImport, Logger: log, Metrics: metrics}),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	dl, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	al, err := net.Listen("tcp", c.AdminListen)
	if err != nil {
		dl.Close()
		return err
	}
	if c.AdminTLS {
		al = tls.NewListener(al, &tls.Config{Certificates: []tls.Certificate{keys.TLS}, MinVersion: tls.VersionTLS12})
	}
	log.Info("masa serving", "listen", dl.Addr().String(), "admin-listen", al.Addr().String())
	errc := make(chan error, 2)
	go func() { errc <- device.ServeTLS(dl, "", "") }()
	go func() { errc <- admin.Serve(al) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("listener failed", "err", err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	err1 := device.Shutdown(sctx)
	err2 := admin.Shutdown(sctx)
	return errors.Join(err1, err2)
}

func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFlags("init", "usage: masa init [options]\n\nCreates the manufacturer's IDevID CA, the voucher-signing key and certificate, and the\ndevice listener's TLS key in --key-dir, or imports existing ones. Refuses to overwrite.", stdout, &c, func(fs *flag.FlagSet) {
		fs.StringVar(&c.Hosts, "hosts", "localhost,127.0.0.1", "comma-separated DNS names and IPs for the TLS certificate")
		fs.StringVar(&c.Organization, "organization", "Landfall MASA", "organization name in created certificates")
		fs.StringVar(&c.ImportCACert, "import-ca-cert", "", "import this IDevID CA certificate (PEM) instead of creating one")
		fs.StringVar(&c.ImportCAKey, "import-ca-key", "", "its private key (PEM); without it the MASA cannot issue IDevIDs")
		fs.StringVar(&c.ImportSignerCert, "import-signer-cert", "", "import this voucher-signing certificate (PEM)")
		fs.StringVar(&c.ImportSignerKey, "import-signer-key", "", "its private key (PEM)")
	})
	if err := parse(fs, &c, args, getenv); err != nil {
		return err
	}
	keys, err := masa.InitKeys(c.KeyDir, masa.InitOptions{
		Organization: c.Organization, Hosts: strings.Split(c.Hosts, ","),
		ImportCACert: c.ImportCACert, ImportCAKey: c.ImportCAKey,
		ImportSignerCert: c.ImportSignerCert, ImportSignerKey: c.ImportSignerKey,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "IDevID CA:      %s\nvoucher signer: %s\nkeys in:        %s\n", keys.CACert.Subject, keys.SignerCert.Subject, c.KeyDir)
	return nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFlags("migrate", "usage: masa migrate [--down] [options]\n\nApplies the embedded schema migrations (or reverts all of them with --down).", stdout, &c, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.Down, "down", false, "revert every migration (drops all MASA tables)")
	})
	if err := parse(fs, &c, args, getenv); err != nil {
		return err
	}
	if c.DatabaseURL == "" {
		return errors.New("--database-url (LANDFALL_MASA_DATABASE_URL) is required")
	}
	if c.Down {
		if err := migrations.Down(c.DatabaseURL, migrations.MASASchema); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "schema removed")
		return nil
	}
	v, err := migrations.Up(c.DatabaseURL, migrations.MASASchema)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema at version %d\n", v)
	return nil
}

// openForCLI builds the service for the one-shot commands, keeping their
// logs quiet.
func openForCLI(ctx context.Context, c *config, stderr io.Writer) (*masa.Service, *pgstore.Store, error) {
	log, err := newLogger(stderr, c.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	svc, store, _, err := openService(ctx, c, false, log)
	return svc, store, err
}

func cmdToken(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFlags(cmd, "usage: masa "+cmd+" [options]\n\nAdmin API tokens. The secret is printed once; only its SHA-256 is stored.", stdout, &c, func(fs *flag.FlagSet) {
		fs.StringVar(&c.Role, "role", "", "token role: admin, factory (IDevIDs, imports), sales (owners, ownership, policy), auditor (read-only)")
		fs.StringVar(&c.Name, "name", "", "a name for the token, for audit events")
		fs.Int64Var(&c.ID, "id", 0, "token id (revoke)")
	})
	if err := parse(fs, &c, args, getenv); err != nil {
		return err
	}
	svc, store, err := openForCLI(ctx, &c, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	switch cmd {
	case "token create":
		if c.Name == "" {
			return errors.New("--name is required")
		}
		t, secret, err := svc.CreateToken(ctx, c.Name, masa.Role(c.Role))
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %d (%s, role %s) created; the secret is shown only now:\n", t.ID, t.Name, t.Role)
		fmt.Fprintln(stdout, secret)
	case "token list":
		ts, err := store.ListTokens(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ts)
	case "token revoke":
		if err := store.RevokeToken(ctx, c.ID, time.Now()); err != nil {
			return fmt.Errorf("token %d: %w", c.ID, err)
		}
		fmt.Fprintf(stdout, "token %d revoked\n", c.ID)
	}
	return nil
}

func cmdIDevID(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFlags("idevid issue", "usage: masa idevid issue --csr FILE [--serial-number S] [--product P] [--out FILE]\n\nSigns a device's CSR (PEM or DER) into an IDevID with the serial number in the subject and the\nMASA URL extension, and registers the device, for factory lines without an HTTP client.", stdout, &c, func(fs *flag.FlagSet) {
		fs.StringVar(&c.CSR, "csr", "", "the device's PKCS#10 CSR, PEM or DER")
		fs.StringVar(&c.SerialNumber, "serial-number", "", "device serial number (default: the CSR subject's serialNumber)")
		fs.StringVar(&c.Product, "product", "", "product name, for per-product policy")
		fs.StringVar(&c.Out, "out", "", "write the IDevID (PEM) here instead of stdout")
	})
	if err := parse(fs, &c, args, getenv); err != nil {
		return err
	}
	b, err := os.ReadFile(c.CSR)
	if err != nil {
		return err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	svc, store, err := openForCLI(ctx, &c, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	user := os.Getenv("USER")
	cert, err := svc.IssueIDevID(ctx, masa.IssueRequest{CSR: b, SerialNumber: c.SerialNumber, Product: c.Product, Actor: "cli:" + user})
	if err != nil {
		return err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if c.Out != "" {
		return os.WriteFile(c.Out, out, 0o644)
	}
	_, err = stdout.Write(out)
	return err
}

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var c config
	fs := newFlags("device import", "usage: masa device import --file FILE [--format json|csv]\n\nImports devices (schema version 1, see docs/masa.md): every row is checked first; all or nothing.", stdout, &c, func(fs *flag.FlagSet) {
		fs.StringVar(&c.File, "file", "", "the import file")
		fs.StringVar(&c.Format, "format", "", "json or csv (default: from the file name's extension)")
	})
	if err := parse(fs, &c, args, getenv); err != nil {
		return err
	}
	body, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	format := c.Format
	if format == "" {
		format = strings.TrimPrefix(strings.ToLower(fileExt(c.File)), ".")
	}
	svc, store, err := openForCLI(ctx, &c, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := svc.ImportDevices(ctx, format, body, "cli:"+os.Getenv("USER"))
	var ie *masa.ImportError
	if errors.As(err, &ie) {
		for _, r := range ie.Rows {
			fmt.Fprintf(stderr, "%s:%d: %s\n", c.File, r.Line, r.Reason)
		}
		return fmt.Errorf("%d bad rows; nothing imported", len(ie.Rows))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d devices\n", n)
	return nil
}

func fileExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i:]
	}
	return ""
}
