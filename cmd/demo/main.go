// Command demo runs Landfall's main job on one machine and says what
// happened: it starts its own PostgreSQL, a MASA and two registrar
// replicas behind a TLS-terminating round-robin load balancer, has the
// manufacturer mint a device's IDevID and sell the device to the owner,
// and onboards the device over ATLS (RFC 8995 through the load balancer):
// voucher from the MASA, domain certificate from the registrar's CA.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	if cli.IsHelp(err) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = cli.Usage(out, fs, "LANDFALL_DEMO", "usage: demo [options]\n\nStarts PostgreSQL, a MASA and two registrar replicas behind a load balancer on this\nmachine, and onboards one device, printing each step.")
	mode := fs.String("mode", pledge.ModeATLSOSCORE, "how the device reaches the registrar: "+strings.Join(pledge.Modes, ", "))
	serial := fs.String("serial", "DEMO-0001", "the device's serial number")
	outDir := fs.String("out", "", "directory to write the device's new certificate, key and CA bundle to (default: none)")
	if err := cli.Parse(fs, args, "LANDFALL_DEMO", os.Getenv); err != nil {
		return err
	}
	say := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }

	say("== Starting PostgreSQL (initdb + pg_ctl in a temporary directory), the MASA,")
	say("   two registrar replicas and the load balancer")
	d, err := sandbox.StartStandalone(ctx, sandbox.Options{})
	if err != nil {
		return err
	}
	defer d.Close()
	say("   PostgreSQL        127.0.0.1:%d, databases masa and registrar", d.DatabasePort)
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
		if err := res.WriteFiles(*outDir); err != nil {
			return err
		}
		say("   device files written to %s", *outDir)
	}
	return nil
}
