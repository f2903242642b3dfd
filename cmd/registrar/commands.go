package main

import (
	"context"
	"crypto/elliptic"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
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

func migrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	verb := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	fs := newFlagSet("migrate", "usage: registrar migrate [up|down|version] [options]\n\n"+
		"Manages the registrar's database schema: up applies every newer migration (the default),\n"+
		"down reverts the newest one only (to go back one release), version prints the version.\n"+
		"On the embedded store the registrar must be stopped.", stdout)
	dsn, stateDir := storeFlags(fs)
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return err
	}
	m, done, err := openMigrator(ctx, *dsn, *stateDir)
	if err != nil {
		return err
	}
	defer done()
	v, err := m.Run(verb)
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
	dsn, stateDir := storeFlags(fs)
	name := fs.String("name", "", "who the token is for (required)")
	role := fs.String("role", "operator", "admin, operator or auditor")
	if err := cli.Parse(fs, args[1:], envPrefix, getenv); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("--name is required")
	}
	db, done, err := openOperatorStore(ctx, *dsn, *stateDir)
	if err != nil {
		return err
	}
	defer done()
	tok, err := store.New(db).CreateToken(ctx, *name, store.Role(*role), "cli")
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
