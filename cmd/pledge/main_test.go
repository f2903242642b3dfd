package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

func writePEM(t *testing.T, path, typ string, ders ...[]byte) {
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOnboardCommand runs `pledge onboard` with an IDevID on disk against a
// sandbox deployment through its load balancer, and checks the files it
// writes; a wrong manufacturer anchor makes it fail with a reason.
func TestOnboardCommand(t *testing.T) {
	ctx := context.Background()
	d, err := sandbox.Start(ctx, sandbox.Options{MASADatabaseURL: testpg.Database(t), RegistrarDatabaseURL: testpg.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	idevid, err := d.NewDevice(ctx, "CLI-0001", true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(idevid.PrivateKey)
	writePEM(t, filepath.Join(dir, "idevid.crt"), "CERTIFICATE", idevid.Certificate...)
	writePEM(t, filepath.Join(dir, "idevid.key"), "PRIVATE KEY", keyDER)
	writePEM(t, filepath.Join(dir, "anchor.crt"), "CERTIFICATE", d.MASAKeys.CACert.Raw)
	writePEM(t, filepath.Join(dir, "masa.crt"), "CERTIFICATE", d.MASAKeys.SignerCert.Raw)
	writePEM(t, filepath.Join(dir, "lb.crt"), "CERTIFICATE", d.LB.Certificate().Raw)
	out := filepath.Join(dir, "out")
	args := []string{"onboard", "--registrar-url", d.LB.URL, "--mode", "atls-cose",
		"--idevid-cert", filepath.Join(dir, "idevid.crt"), "--idevid-key", filepath.Join(dir, "idevid.key"),
		"--masa-cert", filepath.Join(dir, "masa.crt"), "--outer-ca", filepath.Join(dir, "lb.crt"), "--out", out}
	var stdout bytes.Buffer
	if err := run(ctx, append(args, "--manufacturer-anchor", filepath.Join(dir, "anchor.crt")), &stdout, func(string) string { return "" }); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	for _, step := range []string{"requestvoucher", "validate voucher", "simpleenroll", "enrollstatus", "onboarded: SERIALNUMBER=CLI-0001"} {
		if !strings.Contains(stdout.String(), step) {
			t.Fatalf("output lacks %q:\n%s", step, stdout.String())
		}
	}
	for _, f := range []string{"ldevid.crt", "ldevid.key", "ca.crt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	// The voucher cannot be trusted against another anchor.
	err = run(ctx, append(args, "--manufacturer-anchor", filepath.Join(dir, "lb.crt")), io.Discard, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "validate voucher") {
		t.Fatalf("wrong anchor: %v", err)
	}
}

func TestLoadCommand(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"load", "--sandbox", "--devices", "12", "--concurrency", "4", "--mode", "atls-records", "--progress=false"}, &out, func(string) string { return "" })
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var hs bytes.Buffer
	if err := run(context.Background(), []string{"load", "--sandbox", "--handshake-only", "--devices", "10", "--concurrency", "4", "--progress=false"}, &hs, func(string) string { return "" }); err != nil || !strings.Contains(hs.String(), "direct TLS (baseline); ratio") {
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
	d, err := sandbox.Start(ctx, sandbox.Options{MASADatabaseURL: testpg.Database(t), RegistrarDatabaseURL: testpg.Database(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "anchor.crt"), "CERTIFICATE", d.MASAKeys.CACert.Raw)
	writePEM(t, filepath.Join(dir, "masa.crt"), "CERTIFICATE", d.MASAKeys.SignerCert.Raw)
	writePEM(t, filepath.Join(dir, "lb.crt"), "CERTIFICATE", d.LB.Certificate().Raw)
	writePEM(t, filepath.Join(dir, "owner.crt"), "CERTIFICATE", d.State.DomainRoot.Raw)
	var out bytes.Buffer
	err = run(ctx, []string{"load", "--devices", "8", "--concurrency", "4", "--mode", "atls-oscore", "--progress=false",
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
