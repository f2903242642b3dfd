package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// TestLoadCommand runs a --sandbox load, then a --handshake-only one.
func TestLoadCommand(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--sandbox", "--devices", "12", "--concurrency", "4", "--mode", "atls-records", "--progress=false"}, &out, func(string) string { return "" })
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var hs bytes.Buffer
	if err := run(context.Background(), []string{"--sandbox", "--handshake-only", "--devices", "10", "--concurrency", "4", "--progress=false"}, &hs, func(string) string { return "" }); err != nil || !strings.Contains(hs.String(), "direct TLS (baseline); ratio") {
		t.Fatalf("handshake-only: %v\n%s", err, hs.String())
	}
	for _, want := range []string{"12 succeeded, 0 failed", "onboardings/s", "simpleenroll", "total"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestLoadAgainstADeployment mints devices through a MASA's factory API,
// sells them to the owner through its sales API, and onboards them at a
// deployment the command did not start.
func TestLoadAgainstADeployment(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	dir := t.TempDir()
	testkit.WritePEM(t, filepath.Join(dir, "anchor.crt"), "CERTIFICATE", d.MASAKeys.CACert.Raw)
	testkit.WritePEM(t, filepath.Join(dir, "masa.crt"), "CERTIFICATE", d.MASAKeys.SignerCert.Raw)
	testkit.WritePEM(t, filepath.Join(dir, "lb.crt"), "CERTIFICATE", d.LB.Certificate().Raw)
	testkit.WritePEM(t, filepath.Join(dir, "owner.crt"), "CERTIFICATE", d.State.DomainRoot.Raw)
	var out bytes.Buffer
	err := run(ctx, []string{"--devices", "8", "--concurrency", "4", "--mode", "atls-oscore", "--progress=false",
		"--registrar-url", d.LB.URL, "--outer-ca", filepath.Join(dir, "lb.crt"),
		"--manufacturer-anchor", filepath.Join(dir, "anchor.crt"), "--masa-cert", filepath.Join(dir, "masa.crt"),
		"--masa-admin-url", d.MASAAdmin.URL, "--factory-token", d.FactoryToken, "--sales-token", d.SalesToken,
		"--owner-ca", filepath.Join(dir, "owner.crt"), "--serial-prefix", "REMOTE"}, &out, func(string) string { return "" })
	if err != nil || !strings.Contains(out.String(), "8 succeeded, 0 failed") {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if _, err := d.Store.FindPledge(ctx, d.ManufacturerID, "REMOTE-000007"); err != nil {
		t.Fatalf("the registrar does not know the last device: %v", err)
	}
}

// TestLoadCoAPOSCORE runs a --sandbox load in coap-oscore mode: each
// device's handshake and constrained flow over CoAP at the first replica's
// CoAP listener, with the same report as the HTTP modes.
func TestLoadCoAPOSCORE(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--sandbox", "--embedded", "--devices", "8", "--concurrency", "4", "--mode", "coap-oscore", "--progress=false"}, &out, func(string) string { return "" })
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"mode coap-oscore", "8 succeeded, 0 failed", "onboardings/s", "simpleenroll", "enrollstatus", "total"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
}
