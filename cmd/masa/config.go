package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// config is every option of every subcommand. Each is a flag; its
// environment variable is LANDFALL_MASA_ and the flag name in upper case
// with "-" as "_"; its YAML key (in the --config file) is the flag name.
// A flag on the command line wins over the environment, which wins over
// the file, which wins over the default.
type config struct {
	ConfigFile      string
	DatabaseURL     string
	DBMaxConns      int
	KeyDir          string
	Listen          string
	AdminListen     string
	AdminTLS        bool
	ClientAuth      string
	MASAURL         string
	ContentType     string
	MaxBody         int64
	MaxImport       int64
	MaxInFlight     int
	RetryAfter      time.Duration
	AuditLogLimit   int
	MigrateOnStart  bool
	ShutdownTimeout time.Duration
	LogLevel        string

	// init
	Hosts, Organization               string
	ImportCACert, ImportCAKey         string
	ImportSignerCert, ImportSignerKey string
	// token, idevid, device import
	Role, Name, CSR, SerialNumber, Product, Out, File string
	Format                                            string
	ID                                                int64
	Down                                              bool
}

const envPrefix = "LANDFALL_MASA_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// commonFlags are the options every subcommand that touches the database
// or the keys shares.
func commonFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.ConfigFile, "config", "", "YAML file with options (keys are the flag names)")
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL, postgres://user:pass@host:5432/db (required)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 16, "maximum PostgreSQL connections in the pool")
	fs.StringVar(&c.KeyDir, "key-dir", "/var/lib/landfall-masa/keys", "directory of the IDevID CA, voucher-signing and TLS keys (written by init)")
	fs.StringVar(&c.MASAURL, "masa-url", "", "MASA URL written into issued IDevIDs (RFC 8995 2.3.2), e.g. masa.example.com")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
}

func serveFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.Listen, "listen", ":8443", "device-facing HTTPS listener (requestvoucher, requestauditlog)")
	fs.StringVar(&c.AdminListen, "admin-listen", "127.0.0.1:8080", "admin API, health and readiness listener")
	fs.BoolVar(&c.AdminTLS, "admin-tls", false, "serve the admin listener over TLS with the device listener's certificate")
	fs.StringVar(&c.ClientAuth, "client-auth", "optional", "registrar TLS client certificates: optional (requested; needed for nonceless vouchers), require (every voucher-request; must chain to the owner's domain CA) or none")
	fs.StringVar(&c.ContentType, "voucher-content-type", "voucher", "eContentType of issued vouchers: voucher (id-ct-animaJSONVoucher) or data (id-data)")
	fs.Int64Var(&c.MaxBody, "max-body", 64<<10, "largest voucher-request or admin JSON body, bytes")
	fs.IntVar(&c.MaxInFlight, "max-inflight", 256, "most concurrent device requests; more get 503 with Retry-After")
	fs.Int64Var(&c.MaxImport, "max-import", 32<<20, "largest device import body, bytes")
	fs.DurationVar(&c.RetryAfter, "retry-after", 60*time.Second, "Retry-After sent with 202 when no owner is recorded yet")
	fs.IntVar(&c.AuditLogLimit, "audit-log-limit", 1024, "most events in one audit log response (older ones are counted as truncated)")
	fs.BoolVar(&c.MigrateOnStart, "migrate", true, "apply database migrations at start-up")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "grace period for in-flight requests on SIGTERM")
}

// parseFlags parses args, then fills every option not given as a flag
// from the environment and then from the YAML file.
func parseFlags(fs *flag.FlagSet, c *config, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] && getenv(envName("config")) != "" {
		c.ConfigFile = getenv(envName("config"))
	}
	var file map[string]any
	if c.ConfigFile != "" {
		b, err := os.ReadFile(c.ConfigFile)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return fmt.Errorf("config %s: %w", c.ConfigFile, err)
		}
		for k := range file {
			if fs.Lookup(k) == nil {
				return fmt.Errorf("config %s: unknown option %q", c.ConfigFile, k)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || f.Name == "config" {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", envName(f.Name), e)
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if e := fs.Set(f.Name, fmt.Sprint(v)); e != nil {
				err = fmt.Errorf("config %s: %s: %w", c.ConfigFile, f.Name, e)
			}
		}
	})
	return err
}

// usage prints a subcommand's options with their environment variables.
func usage(w io.Writer, fs *flag.FlagSet, synopsis string) func() {
	return func() {
		fmt.Fprintf(w, "%s\n\nOptions (flag, environment variable; the --config YAML file takes the flag names as keys):\n", synopsis)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		sort.Strings(names)
		for _, n := range names {
			f := fs.Lookup(n)
			def := ""
			if f.DefValue != "" {
				def = " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(w, "  --%s, %s\n      %s%s\n", n, envName(n), f.Usage, def)
		}
	}
}
