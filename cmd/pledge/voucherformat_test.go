package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
)

// TestOnboardVoucherFormat runs `pledge onboard --voucher-format` against
// a sandbox deployment: a JWS and a COSE device onboard (the step says
// which format it asked in), a COSE device without --masa-cert cannot
// verify its voucher (the registrar relays it without the MASA's
// certificate), and an unknown format is refused before any connection.
func TestOnboardVoucherFormat(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	dir := t.TempDir()
	testkit.WritePEM(t, filepath.Join(dir, "anchor.crt"), "CERTIFICATE", d.MASAKeys.CACert.Raw)
	testkit.WritePEM(t, filepath.Join(dir, "masa.crt"), "CERTIFICATE", d.MASAKeys.SignerCert.Raw)
	testkit.WritePEM(t, filepath.Join(dir, "lb.crt"), "CERTIFICATE", d.LB.Certificate().Raw)
	device := func(serial string) []string {
		idevid, err := d.NewDevice(ctx, serial, true)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(idevid.PrivateKey)
		testkit.WritePEM(t, filepath.Join(dir, serial+".crt"), "CERTIFICATE", idevid.Certificate...)
		testkit.WritePEM(t, filepath.Join(dir, serial+".key"), "PRIVATE KEY", keyDER)
		return []string{"onboard", "--registrar-url", d.LB.URL, "--mode", "atls-records",
			"--idevid-cert", filepath.Join(dir, serial+".crt"), "--idevid-key", filepath.Join(dir, serial+".key"),
			"--manufacturer-anchor", filepath.Join(dir, "anchor.crt"), "--outer-ca", filepath.Join(dir, "lb.crt"), "--out", filepath.Join(dir, serial)}
	}
	noEnv := func(string) string { return "" }
	for _, format := range []string{"jws", "cose"} {
		var stdout bytes.Buffer
		args := append(device("CLI-FMT-"+format), "--masa-cert", filepath.Join(dir, "masa.crt"), "--voucher-format", format)
		if err := run(ctx, args, &stdout, noEnv); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, stdout.String())
		}
		if !strings.Contains(stdout.String(), "requestvoucher    ok     "+format+", nonce") || !strings.Contains(stdout.String(), "onboarded: SERIALNUMBER=CLI-FMT-"+format) {
			t.Fatalf("%s output:\n%s", format, stdout.String())
		}
	}
	var stdout bytes.Buffer
	err := run(ctx, append(device("CLI-FMT-NOMASA"), "--voucher-format", "cose"), &stdout, noEnv)
	if err == nil || !strings.Contains(err.Error(), "validate voucher") || !strings.Contains(err.Error(), "no-signer-cert") {
		t.Fatalf("COSE without --masa-cert: %v\n%s", err, stdout.String())
	}
	stdout.Reset()
	err = run(ctx, append(device("CLI-FMT-BAD"), "--voucher-format", "xml"), &stdout, noEnv)
	if err == nil || !strings.Contains(err.Error(), `"xml" is not cms, jws or cose`) || strings.Contains(stdout.String(), "connect") {
		t.Fatalf("unknown format: %v\n%s", err, stdout.String())
	}
}
