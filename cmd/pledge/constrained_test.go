package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
)

// TestOnboardConstrained runs `pledge onboard --constrained` against a
// sandbox deployment in atls-oscore mode: each step names its short
// resource and the device's files are written; --constrained with a mode
// it cannot run in is refused before any connection.
func TestOnboardConstrained(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	dir := t.TempDir()
	idevid, err := d.NewDevice(ctx, "CLI-CBRSKI-1", true)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(idevid.PrivateKey)
	testkit.WritePEM(t, filepath.Join(dir, "idevid.crt"), "CERTIFICATE", idevid.Certificate...)
	testkit.WritePEM(t, filepath.Join(dir, "idevid.key"), "PRIVATE KEY", keyDER)
	testkit.WritePEM(t, filepath.Join(dir, "anchor.crt"), "CERTIFICATE", d.MASAKeys.CACert.Raw)
	testkit.WritePEM(t, filepath.Join(dir, "masa.crt"), "CERTIFICATE", d.MASAKeys.SignerCert.Raw)
	testkit.WritePEM(t, filepath.Join(dir, "lb.crt"), "CERTIFICATE", d.LB.Certificate().Raw)
	out := filepath.Join(dir, "out")
	args := func(mode string) []string {
		return []string{"onboard", "--constrained", "--registrar-url", d.LB.URL, "--mode", mode,
			"--idevid-cert", filepath.Join(dir, "idevid.crt"), "--idevid-key", filepath.Join(dir, "idevid.key"),
			"--manufacturer-anchor", filepath.Join(dir, "anchor.crt"), "--masa-cert", filepath.Join(dir, "masa.crt"),
			"--outer-ca", filepath.Join(dir, "lb.crt"), "--out", out}
	}
	noEnv := func(string) string { return "" }
	var stdout bytes.Buffer
	if err := run(ctx, args("atls-oscore"), &stdout, noEnv); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	for _, want := range []string{"requestvoucher    ok     /rv,", "voucher_status    ok     /vs, CBOR", "cacerts           ok     /crts,",
		"csrattrs          ok     /att,", "simpleenroll      ok     /sen,", "enrollstatus      ok     /es, CBOR", "onboarded: SERIALNUMBER=CLI-CBRSKI-1"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("no %q in\n%s", want, stdout.String())
		}
	}
	for _, f := range []string{"ldevid.crt", "ldevid.key", "ca.crt"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	stdout.Reset()
	err = run(ctx, args("atls-cose"), &stdout, noEnv)
	if err == nil || !strings.Contains(err.Error(), "--constrained runs in --mode atls-oscore, coap-oscore, not atls-cose") || strings.Contains(stdout.String(), "connect") {
		t.Fatalf("atls-cose: %v\n%s", err, stdout.String())
	}
}
