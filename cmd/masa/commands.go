package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
)

func initKeys(args []string, stdout io.Writer, getenv func(string) string) error {
	fs, c := newFlagSet("init", "usage: masa init [options]\n\nCreates the manufacturer's IDevID CA, the voucher-signing key and certificate, and the\ndevice listener's TLS key in --key-dir, or imports existing ones. Refuses to overwrite.", stdout)
	hosts := fs.String("hosts", "localhost,127.0.0.1", "comma-separated DNS names and IPs for the TLS certificate")
	org := fs.String("organization", "Landfall MASA", "organization name in created certificates")
	caCert := fs.String("import-ca-cert", "", "import this IDevID CA certificate (PEM) instead of creating one")
	caKey := fs.String("import-ca-key", "", "its private key (PEM); without it the MASA cannot issue IDevIDs")
	signerCert := fs.String("import-signer-cert", "", "import this voucher-signing certificate (PEM)")
	signerKey := fs.String("import-signer-key", "", "its private key (PEM)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	keys, err := masa.InitKeys(c.keyDir, masa.InitOptions{
		Organization: *org, Hosts: strings.Split(*hosts, ","),
		ImportCACert: *caCert, ImportCAKey: *caKey,
		ImportSignerCert: *signerCert, ImportSignerKey: *signerKey,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "IDevID CA:      %s\nvoucher signer: %s\nkeys in:        %s\n", keys.CACert.Subject, keys.SignerCert.Subject, c.keyDir)
	return nil
}

func migrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	verb := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	fs, c := newFlagSet("migrate", "usage: masa migrate [up|down|version] [options]\n\n"+
		"Manages the MASA's database schema, PostgreSQL at --database-url or the embedded store\n"+
		"<key-dir>/"+embeddedFile+": up applies every newer migration (the default; serve also does at start-up),\n"+
		"down reverts the newest one only (to go back one release; --all reverts every one, dropping\n"+
		"all MASA tables), version prints the version. On the embedded store `masa serve` must be stopped.", stdout)
	all := fs.Bool("all", false, "with down: revert every migration (drops all MASA tables and their data)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	switch verb {
	case "up", "down", "version":
	default:
		return fmt.Errorf("unknown action %q (up, down or version)", verb)
	}
	if *all && verb != "down" {
		return errors.New("--all goes with down only")
	}
	m, done, err := c.openMigrator(ctx)
	if err != nil {
		return err
	}
	defer done()
	var v uint
	if *all {
		err = m.Down()
	} else {
		v, err = m.Run(verb)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema at version %d (%s)\n", v, c.storeName())
	return nil
}

func token(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, c := newFlagSet(cmd, "usage: masa "+cmd+" [options]\n\nAdmin API tokens. The secret is printed once; only its SHA-256 is stored.", stdout)
	role := fs.String("role", "", "token role: admin, factory (IDevIDs, imports), sales (owners, ownership, policy), auditor (read-only)")
	name := fs.String("name", "", "a name for the token, for audit events")
	id := fs.Int64("id", 0, "token id (revoke)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	svc, store, err := c.openService(ctx, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	switch cmd {
	case "token create":
		if *name == "" {
			return errors.New("--name is required")
		}
		t, secret, err := svc.CreateToken(ctx, *name, masa.Role(*role))
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
		if err := store.RevokeToken(ctx, *id, time.Now()); err != nil {
			return fmt.Errorf("token %d: %w", *id, err)
		}
		fmt.Fprintf(stdout, "token %d revoked\n", *id)
	}
	return nil
}

// cliActor names the operator in audit events: the login name, from the
// injected environment.
func cliActor(getenv func(string) string) string { return "cli:" + getenv("USER") }

func issueIDevID(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, c := newFlagSet("idevid issue", "usage: masa idevid issue --csr FILE [--serial-number S] [--product P] [--out FILE]\n\nSigns a device's CSR (PEM or DER) into an IDevID with the serial number in the subject and the\nMASA URL extension, and registers the device, for factory lines without an HTTP client.", stdout)
	csrFile := fs.String("csr", "", "the device's PKCS#10 CSR, PEM or DER")
	serial := fs.String("serial-number", "", "device serial number (default: the CSR subject's serialNumber)")
	product := fs.String("product", "", "product name, for per-product policy")
	outFile := fs.String("out", "", "write the IDevID (PEM) here instead of stdout")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	b, err := os.ReadFile(*csrFile)
	if err != nil {
		return err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	svc, store, err := c.openService(ctx, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	cert, err := svc.IssueIDevID(ctx, masa.IssueRequest{CSR: b, SerialNumber: *serial, Product: *product, Actor: cliActor(getenv)})
	if err != nil {
		return err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if *outFile != "" {
		return os.WriteFile(*outFile, out, 0o644)
	}
	_, err = stdout.Write(out)
	return err
}

func importDevices(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs, c := newFlagSet("device import", "usage: masa device import --file FILE [--format json|csv]\n\nImports devices (schema version 1, see docs/masa.md): every row is checked first; all or nothing.", stdout)
	file := fs.String("file", "", "the import file")
	format := fs.String("format", "", "json or csv (default: from the file name's extension)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	f := *format
	if f == "" {
		f = strings.TrimPrefix(strings.ToLower(fileExt(*file)), ".")
	}
	svc, store, err := c.openService(ctx, stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := svc.ImportDevices(ctx, f, body, cliActor(getenv))
	var ie *masa.ImportError
	if errors.As(err, &ie) {
		for _, r := range ie.Rows {
			fmt.Fprintf(stderr, "%s:%d: %s\n", *file, r.Line, r.Reason)
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
