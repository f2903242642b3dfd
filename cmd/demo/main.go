// Command demo runs Landfall's main job on one machine and says what
// happened: it starts its own PostgreSQL, a MASA and two registrar
// replicas behind a TLS-terminating round-robin load balancer, has the
// manufacturer mint a device's IDevID and sell the device to the owner,
// and onboards the device over ATLS (RFC 8995 through the load balancer):
// voucher from the MASA, domain certificate from the registrar's CA.
package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/landfall-io/landfall/internal/pgcluster"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	mode := fs.String("mode", pledge.ModeATLSOSCORE, "how the device reaches the registrar: "+strings.Join(pledge.Modes, ", "))
	serial := fs.String("serial", "DEMO-0001", "the device's serial number")
	outDir := fs.String("out", "", "directory to write the device's new certificate, key and CA bundle to (default: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }

	say("== Starting PostgreSQL (initdb + pg_ctl in a temporary directory)")
	cluster, err := pgcluster.NewCluster(ctx)
	if err != nil {
		return err
	}
	defer cluster.Destroy()
	masaDB, err := cluster.CreateDatabase(ctx, "masa")
	if err != nil {
		return err
	}
	regDB, err := cluster.CreateDatabase(ctx, "registrar")
	if err != nil {
		return err
	}
	say("   PostgreSQL on 127.0.0.1:%d, databases masa and registrar", cluster.Port())

	say("== Starting the MASA, two registrar replicas and the load balancer")
	d, err := sandbox.Start(ctx, sandbox.Options{MASADatabaseURL: masaDB, RegistrarDatabaseURL: regDB})
	if err != nil {
		return err
	}
	defer d.Close()
	say("   MASA              %s", d.MASAServer.URL)
	say("   load balancer     %s (terminates TLS, round-robin, no stickiness)", d.LB.URL)
	for i, r := range d.Direct {
		say("   replica %c direct  %s", 'a'+i, r.URL)
	}
	say("   domain CA         %s", d.State.DomainRoot.Subject)

	say("== Factory: the MASA mints the IDevID of device %s; sales assigns it to example.net", *serial)
	idevid, err := d.NewDevice(ctx, *serial, true)
	if err != nil {
		return err
	}
	say("   IDevID            %s, issued by %s", idevid.Leaf.Subject, idevid.Leaf.Issuer)

	say("== Onboarding the device over %s", *mode)
	cfg := d.PledgeConfig(*mode, idevid)
	start := time.Now()
	cfg.Progress = func(s pledge.Step) {
		status := "ok"
		if s.Err != nil {
			status = "FAILED: " + s.Err.Error()
		}
		say("   %-17s %-6s %s (%s)", s.Name, status, s.Detail, s.Duration.Round(time.Millisecond))
	}
	res, err := pledge.Onboard(ctx, cfg)
	if err != nil {
		return err
	}
	say("== Onboarded in %s", time.Since(start).Round(time.Millisecond))
	say("   voucher           assertion %s, serial %s, pinned domain CA %q", res.Voucher.Assertion, res.Voucher.SerialNumber, d.State.DomainRoot.Subject.CommonName)
	say("   new certificate   subject %s", res.Certificate.Subject)
	say("                     issuer  %s", res.Certificate.Issuer)
	say("                     valid   %s to %s", res.Certificate.NotBefore.Format(time.RFC3339), res.Certificate.NotAfter.Format(time.RFC3339))

	p, err := d.Store.FindPledge(ctx, d.ManufacturerID, *serial)
	if err != nil {
		return err
	}
	ex, _ := d.Store.ListExchanges(ctx, p.ID)
	say("== The registrar's records: pledge %d %s/%s, %d voucher exchange(s), %d request(s) through the load balancer",
		p.ID, p.Decision, p.State, len(ex), d.LBRequests.Load())
	if *outDir != "" {
		if err := writeResult(*outDir, res); err != nil {
			return err
		}
		say("   device files written to %s", *outDir)
	}
	return nil
}

// writeResult stores the domain certificate, key and CA bundle as PEM.
func writeResult(dir string, res *pledge.Result) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(res.Key)
	if err != nil {
		return err
	}
	var certs, cas []byte
	certs = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: res.Certificate.Raw})
	for _, c := range res.Chain {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	for _, c := range res.CACerts {
		cas = append(cas, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	for name, b := range map[string][]byte{"ldevid.crt": certs, "ca.crt": cas, "ldevid.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
