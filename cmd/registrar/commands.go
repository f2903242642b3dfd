package main

import (
	"context"
	"crypto/elliptic"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/migrations"
)

// newFlagSet is a subcommand's flag set whose --help lists every option
// with its environment variable.
func newFlagSet(name, synopsis string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = cli.Usage(out, fs, envPrefix, synopsis)
	return fs
}

func initState(args []string, stdout io.Writer, getenv func(string) string) error {
	fs := newFlagSet("init", "usage: registrar init [options]\n\nCreates the domain CA (root and issuing CA), the registrar TLS certificate,\nthe RA certificate that signs voucher-requests, and the keys all replicas share.", stdout)
	dir := fs.String("state-dir", "/var/lib/landfall/registrar", "directory for keys and certificates")
	domain := fs.String("domain", "", "owner's domain name, used in CA subjects (required)")
	names := fs.String("dns-names", "", "comma-separated DNS names of the registrar certificate (default registrar.<domain>)")
	ips := fs.String("ip-addresses", "", "comma-separated IP addresses of the registrar certificate")
	curve := fs.String("ca-curve", "P-256", "curve of the domain CA keys: P-256 or P-384")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return err
	}
	o := registrar.InitOptions{Domain: *domain, DNSNames: splitList(*names)}
	switch *curve {
	case "P-256":
		o.Curve = elliptic.P256()
	case "P-384":
		o.Curve = elliptic.P384()
	default:
		return fmt.Errorf("--ca-curve must be P-256 or P-384, not %q", *curve)
	}
	for _, s := range splitList(*ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			return fmt.Errorf("--ip-addresses: %q is not an IP address", s)
		}
		o.IPs = append(o.IPs, ip)
	}
	if err := registrar.InitState(*dir, o); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registrar state written to %s\n", *dir)
	return nil
}

func migrate(args []string, stdout io.Writer, getenv func(string) string) error {
	fs := newFlagSet("migrate", "usage: registrar migrate [options]\n\nApplies the registrar's database schema.", stdout)
	dsn := fs.String("database-url", "", "PostgreSQL URL, postgres://... (required)")
	down := fs.Bool("down", false, "revert every migration instead (destroys all registrar data)")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return err
	}
	if *down {
		return migrations.Down(*dsn, migrations.RegistrarSchema)
	}
	v, err := migrations.Up(*dsn, migrations.RegistrarSchema)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registrar schema at version %d\n", v)
	return nil
}

func token(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: registrar token create --name N --role admin|operator|auditor")
	}
	fs := newFlagSet("token create", "usage: registrar token create [options]\n\nCreates an admin API bearer token and prints it once; only its hash is stored.", stdout)
	dsn := fs.String("database-url", "", "PostgreSQL URL, postgres://... (required)")
	name := fs.String("name", "", "who the token is for (required)")
	role := fs.String("role", "operator", "admin, operator or auditor")
	if err := cli.Parse(fs, args[1:], envPrefix, getenv); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("--name is required")
	}
	pool, err := pgxpool.New(ctx, *dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	tok, err := store.New(pool).CreateToken(ctx, *name, store.Role(*role), "cli")
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
