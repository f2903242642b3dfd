package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binDir holds masa, registrar, pledge and demo, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "landfall-demo-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := func() int {
		root, err := moduleRoot(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/masa", "./cmd/registrar", "./cmd/pledge", "./cmd/demo")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, b)
			return 1
		}
		return m.Run()
	}()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The main job as processes: the demo starts masa and registrar (init,
// serve) on their embedded stores, onboards a device with pledge onboard,
// prints each step, the certificate and the stores, and stops both cleanly.
// The certificate it leaves chains to the CA bundle beside it.
func TestDemoOnboardsADevice(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, []string{"--bin", binDir, "--dir", filepath.Join(dir, "work"), "--mode", "atls-cose", "--serial", "DEMO-T1", "--out", out}, &buf); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	for _, want := range []string{
		"masa              sqlite ", "registrar         sqlite ",
		"requestvoucher    ok", "simpleenroll      ok", "enrollstatus      ok",
		"new certificate   subject SERIALNUMBER=DEMO-T1", "issuer  CN=example.net Issuing CA",
		"approved/enrolled", "stopped registrar (pid", "stopped masa      (pid",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "exit status") {
		t.Fatalf("a service did not exit cleanly:\n%s", buf.String())
	}
	certs := readPEM(t, filepath.Join(out, "ldevid.crt"))
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range readPEM(t, filepath.Join(out, "ca.crt")) {
		if c.Subject.String() == c.Issuer.String() {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("written certificate does not chain to the written CA bundle: %v", err)
	}
}

// --keep, as a user runs it: the demo binary with a PATH that holds no
// PostgreSQL programs (nor anything else) leaves the deployment running and
// prints a pledge onboard command; that command, run as another process,
// onboards a second device; SIGINT (Ctrl-C) stops every service with exit 0.
func TestDemoKeep(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty-path")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	demo := exec.Command(filepath.Join(binDir, "demo"), "--keep", "--bin", binDir, "--dir", filepath.Join(dir, "work"), "--serial", "KEEP-0001")
	demo.Env = append(filterEnv(os.Environ(), "PATH"), "PATH="+empty)
	stdout, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	demo.Stderr = &stderr
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	defer demo.Process.Kill()
	lines := make(chan string, 256)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var printed []string
	var command string
	deadline := time.After(2 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended before it was running:\n%s\n%s", strings.Join(printed, "\n"), stderr.String())
			}
			printed = append(printed, l)
			if len(printed) >= 2 && strings.Contains(printed[len(printed)-2], "onboard it from another shell:") {
				command = strings.TrimSpace(l)
			}
			if strings.HasPrefix(l, "== Running") {
				break wait
			}
		case <-deadline:
			t.Fatalf("demo not running after 2 minutes:\n%s", strings.Join(printed, "\n"))
		}
	}
	if command == "" {
		t.Fatalf("no pledge command printed:\n%s", strings.Join(printed, "\n"))
	}
	for _, want := range []string{"IDevID key", "manufacturer anchor", "outer TLS CA", "registrar admin", "MASA admin"} {
		if !strings.Contains(strings.Join(printed, "\n"), want) {
			t.Fatalf("output lacks %q:\n%s", want, strings.Join(printed, "\n"))
		}
	}
	// Another shell: only the printed command line.
	words := strings.Fields(command)
	second := exec.Command(words[0], words[1:]...)
	second.Env = []string{"PATH=" + empty}
	b, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "onboarded: SERIALNUMBER=KEEP-0002") {
		t.Fatalf("second device: %v\n%s", err, b)
	}
	pids := servicePids(t, printed)
	if err := demo.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		printed = append(printed, l)
	}
	if err := demo.Wait(); err != nil {
		t.Fatalf("demo after Ctrl-C: %v\n%s\n%s", err, strings.Join(printed, "\n"), stderr.String())
	}
	all := strings.Join(printed, "\n")
	for _, want := range []string{"stopped registrar (pid", "stopped masa      (pid"} {
		if !strings.Contains(all, want) {
			t.Fatalf("output lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "exit status") {
		t.Fatalf("a service did not exit cleanly:\n%s", all)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Fatalf("service pid %d still alive after the demo stopped", pid)
		}
	}
}

var pidRE = regexp.MustCompile(`serve +pid (\d+)`)

func servicePids(t *testing.T, lines []string) []int {
	var pids []int
	for _, l := range lines {
		if m := pidRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			pids = append(pids, n)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("want the pids of masa serve and registrar serve, got %v", pids)
	}
	return pids
}

func filterEnv(env []string, drop string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, drop+"=") {
			out = append(out, e)
		}
	}
	return out
}

func TestNextSerial(t *testing.T) {
	for in, want := range map[string]string{"DEMO-0001": "DEMO-0002", "X9": "X10", "ABC": "ABC-2", "A-0099": "A-0100"} {
		if got := nextSerial(in); got != want {
			t.Errorf("nextSerial(%q) = %q, want %q", in, got, want)
		}
	}
}

func readPEM(t *testing.T, path string) []*x509.Certificate {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}

// The demo is an orchestrator of the real binaries: it links no service
// package and no PostgreSQL cluster code, so nothing in it can start
// initdb or run a service in-process.
func TestDemoLinksNoService(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/landfall-io/landfall/"
	for _, pkg := range strings.Fields(string(out)) {
		for _, p := range []string{"internal/masa", "internal/registrar", "internal/sandbox", "internal/pgcluster", "internal/testpg", "internal/sqldb", "migrations"} {
			if pkg == mod+p || strings.HasPrefix(pkg, mod+p+"/") {
				t.Errorf("cmd/demo depends on %s", pkg)
			}
		}
	}
}
