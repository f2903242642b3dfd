package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// TestOnboardCommand runs `pledge onboard` with an IDevID on disk against a
// sandbox deployment through its load balancer, and checks the files it
// writes; a wrong manufacturer anchor makes it fail with a reason.
func TestOnboardCommand(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	idevid, err := d.NewDevice(ctx, "CLI-0001", true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKCS8PrivateKey(idevid.PrivateKey)
	testkit.WritePEM(t, filepath.Join(dir, "idevid.crt"), "CERTIFICATE", idevid.Certificate...)
	testkit.WritePEM(t, filepath.Join(dir, "idevid.key"), "PRIVATE KEY", keyDER)
	testkit.WritePEM(t, filepath.Join(dir, "anchor.crt"), "CERTIFICATE", d.MASAKeys.CACert.Raw)
	testkit.WritePEM(t, filepath.Join(dir, "masa.crt"), "CERTIFICATE", d.MASAKeys.SignerCert.Raw)
	testkit.WritePEM(t, filepath.Join(dir, "lb.crt"), "CERTIFICATE", d.LB.Certificate().Raw)
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

// TestDeviceLinksNoServer checks that the device binary is a device (issue
// 12): its dependency graph names no MASA, registrar, sandbox or
// PostgreSQL package, and `pledge load` points at loadgen.
func TestDeviceLinksNoServer(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/landfall-io/landfall/"
	for _, pkg := range strings.Fields(string(out)) {
		for _, server := range []string{"internal/masa", "internal/registrar", "internal/sandbox", "internal/pgcluster", "internal/testpg", "migrations"} {
			if pkg == mod+server || strings.HasPrefix(pkg, mod+server+"/") {
				t.Errorf("cmd/pledge depends on %s", pkg)
			}
		}
	}
	err = run(context.Background(), []string{"load", "--devices", "1"}, io.Discard, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "loadgen") {
		t.Fatalf("pledge load: %v", err)
	}
}
