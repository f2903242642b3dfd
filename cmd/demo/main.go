// Command demo runs Landfall's main job on one machine as real processes
// and says what happened: it builds cmd/masa, cmd/registrar and cmd/pledge,
// runs `masa init`, `registrar init`, `masa serve` and `registrar serve`
// (without database URLs: each on its embedded SQLite store), wires them
// through their own admin CLIs and APIs (tokens, the trusted manufacturer,
// the device's IDevID and its sale to the owner), and onboards the device
// with `pledge onboard` through a TLS-terminating load balancer. It needs no
// PostgreSQL. With --keep it leaves the deployment running for outside
// clients and stops it on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/pemfile"
)

const (
	modeDirect = "direct"
	stopGrace  = 20 * time.Second
	readyLimit = 60 * time.Second
)

var modes = []string{modeDirect, "atls-records", "atls-oscore", "atls-cose"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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

type options struct {
	mode, serial, out, dir, bin string
	keep                        bool
}

func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = cli.Usage(out, fs, "LANDFALL_DEMO", "usage: demo [options]\n\nBuilds masa, registrar and pledge, runs a MASA and a registrar as processes on their\nembedded stores (no PostgreSQL), and onboards one device with `pledge onboard`, printing each step.")
	var o options
	fs.StringVar(&o.mode, "mode", "atls-oscore", "how the device reaches the registrar: "+strings.Join(modes, ", "))
	fs.StringVar(&o.serial, "serial", "DEMO-0001", "the device's serial number")
	fs.StringVar(&o.out, "out", "", "directory for the device's new certificate, key and CA bundle (default: <dir>/devices/<serial>/out)")
	fs.StringVar(&o.dir, "dir", "", "working directory, new or empty: binaries, keys, stores, logs, device files; kept (default: a new temporary directory, removed at exit)")
	fs.StringVar(&o.bin, "bin", "", "directory holding already built masa, registrar and pledge binaries (default: go build them into <dir>/bin)")
	fs.BoolVar(&o.keep, "keep", false, "leave the deployment running, print what an outside client needs, stop it on Ctrl-C")
	if err := cli.Parse(fs, args, "LANDFALL_DEMO", os.Getenv); err != nil {
		return err
	}
	if !contains(modes, o.mode) {
		return fmt.Errorf("--mode must be one of %s", strings.Join(modes, ", "))
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "landfall-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.dir)
	} else {
		if o.dir, err = filepath.Abs(o.dir); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(o.dir, "masa")); err == nil {
			return fmt.Errorf("--dir %s holds an earlier run (masa/ exists); give a new or empty directory", o.dir)
		}
	}
	d := &demo{o: o, out: out}
	defer func() {
		if stopErr := d.stopAll(); err == nil {
			err = stopErr
		}
	}()
	return d.run(ctx)
}

// demo is one run: its options, what it started and where.
type demo struct {
	o        options
	out      io.Writer
	children []*child
	lb       *loadBalancer

	masaBin, registrarBin, pledgeBin string
}

func (d *demo) say(format string, a ...any) { fmt.Fprintf(d.out, format+"\n", a...) }

func (d *demo) sayIndented(text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if l != "" {
			d.say("   %s", l)
		}
	}
}

func (d *demo) run(ctx context.Context) error {
	o := d.o
	if err := d.build(ctx); err != nil {
		return err
	}
	masaKeys := filepath.Join(o.dir, "masa")
	regState := filepath.Join(o.dir, "registrar")
	trust := filepath.Join(o.dir, "trust")
	ports, err := freePorts(7)
	if err != nil {
		return err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	masaListen, masaAdmin, regPublic, regDirect, regInternal, regAdmin, lbListen := addr(0), addr(1), addr(2), addr(3), addr(4), addr(5), addr(6)
	masaURL := "https://" + masaListen

	d.say("== masa init --key-dir %s", masaKeys)
	stdout, _, err := runOnce(ctx, d.masaBin, "init", "--key-dir", masaKeys, "--hosts", "127.0.0.1,localhost", "--organization", "Example Manufacturer")
	if err != nil {
		return err
	}
	d.sayIndented(stdout)
	d.say("== registrar init --state-dir %s --domain example.net", regState)
	stdout, _, err = runOnce(ctx, d.registrarBin, "init", "--state-dir", regState, "--domain", "example.net",
		"--dns-names", "registrar.example.net,localhost", "--ip-addresses", "127.0.0.1")
	if err != nil {
		return err
	}
	d.sayIndented(stdout)

	// The one-shot commands run before serve: the embedded store takes one
	// process at a time (the MASA's is locked while it serves).
	d.say("== Schema and tokens, from the binaries' own CLIs (before serve: the embedded store is one process's)")
	// `migrate` without a verb applies every newer migration (up).
	for _, m := range []struct {
		name string
		args []string
	}{{"masa", []string{d.masaBin, "migrate", "--key-dir", masaKeys}}, {"registrar", []string{d.registrarBin, "migrate", "up", "--state-dir", regState}}} {
		stdout, _, err := runOnce(ctx, m.args[0], m.args[1:]...)
		if err != nil {
			return err
		}
		d.say("   %s: %s", strings.Join(append([]string{m.name}, m.args[1:2]...), " "), strings.TrimSpace(stdout))
	}
	masaToken, _, err := runOnce(ctx, d.masaBin, "token", "create", "--key-dir", masaKeys, "--role", "admin", "--name", "demo")
	if err != nil {
		return err
	}
	masaToken = strings.TrimSpace(masaToken)
	d.say("   masa token create --role admin --name demo")
	regToken, _, err := runOnce(ctx, d.registrarBin, "token", "create", "--state-dir", regState, "--role", "admin", "--name", "demo")
	if err != nil {
		return err
	}
	regToken = strings.TrimSpace(regToken)
	d.say("   registrar token create --role admin --name demo")

	d.say("== Starting the services as processes (no --database-url: each on its embedded store)")
	masa, err := d.start(ctx, "masa", d.masaBin, "http://"+masaAdmin+"/readyz",
		"serve", "--key-dir", masaKeys, "--listen", masaListen, "--admin-listen", masaAdmin, "--masa-url", masaURL)
	if err != nil {
		return err
	}
	d.say("   masa serve        pid %d, device API %s, admin %s", masa.cmd.Process.Pid, masaURL, "http://"+masaAdmin)
	reg, err := d.start(ctx, "registrar", d.registrarBin, "http://"+regAdmin+"/readyz",
		"serve", "--state-dir", regState, "--listen-public", regPublic, "--listen-direct", regDirect,
		"--listen-internal", regInternal, "--listen-admin", regAdmin, "--trusted-proxies", "127.0.0.1/32")
	if err != nil {
		return err
	}
	d.say("   registrar serve   pid %d, ATLS (plain HTTP) http://%s, direct https://%s, admin http://%s", reg.cmd.Process.Pid, regPublic, regDirect, regAdmin)
	d.lb, err = startLoadBalancer(lbListen, &url.URL{Scheme: "http", Host: regPublic})
	if err != nil {
		return err
	}
	d.say("   load balancer     %s (in the demo process: terminates TLS, forwards to the registrar's ATLS listener)", d.lb.URL)
	d.say("   logs              %s", filepath.Join(o.dir, "logs"))
	stores := map[string]string{"masa": masa.storeLine(), "registrar": reg.storeLine()}
	d.say("== Stores")
	for _, name := range []string{"masa", "registrar"} {
		s := stores[name]
		if s == "" {
			s = "(not named in its log; see " + filepath.Join(o.dir, "logs", name+".log") + ")"
		}
		d.say("   %-17s %s", name, s)
	}

	anchor, err := os.ReadFile(filepath.Join(masaKeys, "idevid-ca.crt"))
	if err != nil {
		return err
	}
	domainCA, err := os.ReadFile(filepath.Join(regState, "domain-ca", "root_ca.crt"))
	if err != nil {
		return err
	}
	d.say("== The registrar trusts the manufacturer: POST /api/v1/manufacturers (IDevID anchor and MASA TLS anchor: the MASA's IDevID CA)")
	var m struct {
		ID int64 `json:"id"`
	}
	if err := adminCall(ctx, http.MethodPost, "http://"+regAdmin+"/api/v1/manufacturers", regToken,
		map[string]any{"name": "Example Manufacturer", "idevid_anchor": string(anchor), "masa_anchor": string(anchor)}, &m); err != nil {
		return err
	}
	d.say("   manufacturer %d", m.ID)

	for _, f := range []struct {
		name string
		b    []byte
	}{{"manufacturer-anchor.crt", anchor}, {"outer-ca.crt", d.lb.CAPEM}} {
		if err := writeFile(filepath.Join(trust, f.name), f.b, 0o644); err != nil {
			return err
		}
	}
	devicesDir := filepath.Join(o.dir, "devices")
	d.say("== Factory: device %s makes a key and CSR, the MASA signs its IDevID (POST /admin/v1/idevids);", o.serial)
	d.say("   sales assigns it to the owner example.net by its domain CA (POST /admin/v1/ownership/assign)")
	dev, err := mintDevice(ctx, "http://"+masaAdmin, masaToken, o.serial, filepath.Join(devicesDir, o.serial), domainCA)
	if err != nil {
		return err
	}
	d.say("   IDevID            %s, issued by %s", dev.Subject, dev.Issuer)

	registrarURL := d.lb.URL
	if o.mode == modeDirect {
		registrarURL = "https://" + regDirect
	}
	outDir := o.out
	if outDir == "" {
		outDir = filepath.Join(dev.Dir, "out")
	}
	args := pledgeArgs(registrarURL, o.mode, dev, trust, outDir)
	d.say("== pledge %s", strings.Join(args, " "))
	start := time.Now()
	if err := d.runPledge(ctx, args); err != nil {
		return err
	}
	d.say("== Onboarded in %s", time.Since(start).Round(time.Millisecond))
	if c, err := pemfile.Cert(filepath.Join(outDir, "ldevid.crt")); err == nil {
		d.say("   new certificate   subject %s", c.Subject)
		d.say("                     issuer  %s", c.Issuer)
		d.say("                     serial  %s", c.SerialNumber.Text(16))
		d.say("                     valid   %s to %s", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	} else {
		return err
	}

	var page struct {
		Items []struct {
			ID       int64  `json:"id"`
			Serial   string `json:"serial"`
			Decision string `json:"decision"`
			State    string `json:"state"`
		} `json:"items"`
	}
	if err := adminCall(ctx, http.MethodGet, "http://"+regAdmin+"/api/v1/pledges?serial_prefix="+url.QueryEscape(o.serial), regToken, nil, &page); err != nil {
		return err
	}
	for _, p := range page.Items {
		if p.Serial == o.serial {
			d.say("== The registrar's record (GET /api/v1/pledges): pledge %d %s %s/%s", p.ID, p.Serial, p.Decision, p.State)
		}
	}
	d.say("   device files      %s", outDir)

	if !o.keep {
		d.say("== Stopping the services (SIGTERM, then wait)")
		return nil
	}
	next := nextSerial(o.serial)
	d.say("== --keep: a second device, %s, minted and sold for you to onboard from another shell", next)
	dev2, err := mintDevice(ctx, "http://"+masaAdmin, masaToken, next, filepath.Join(devicesDir, next), domainCA)
	if err != nil {
		return err
	}
	d.say("   URLs")
	d.say("     load balancer (ATLS)   %s   (outer TLS CA: %s)", d.lb.URL, filepath.Join(trust, "outer-ca.crt"))
	d.say("     registrar direct       https://%s", regDirect)
	d.say("     registrar admin        http://%s   token %s", regAdmin, regToken)
	d.say("     MASA device API        %s", masaURL)
	d.say("     MASA admin             http://%s   token %s", masaAdmin, masaToken)
	d.say("   device files")
	d.say("     IDevID                 %s", dev2.Cert)
	d.say("     IDevID key             %s", dev2.Key)
	d.say("     manufacturer anchor    %s", filepath.Join(trust, "manufacturer-anchor.crt"))
	d.say("     outer TLS CA           %s", filepath.Join(trust, "outer-ca.crt"))
	d.say("   onboard it from another shell:")
	d.say("     %s %s", d.pledgeBin, strings.Join(pledgeArgs(d.lb.URL, o.mode, dev2, trust, filepath.Join(dev2.Dir, "out")), " "))
	d.say("   more devices: POST %s/admin/v1/idevids and /admin/v1/ownership/assign with the MASA token", "http://"+masaAdmin)
	d.say("== Running; press Ctrl-C to stop")
	select {
	case <-ctx.Done():
	case <-masa.done:
		return fmt.Errorf("masa exited (%v); its log:\n%s", masa.err, masa.logTail())
	case <-reg.done:
		return fmt.Errorf("registrar exited (%v); its log:\n%s", reg.err, reg.logTail())
	}
	d.say("== Stopping the services (SIGTERM, then wait)")
	return nil
}

// pledgeArgs is the `pledge onboard` command line of a device.
func pledgeArgs(registrarURL, mode string, dev *device, trust, out string) []string {
	a := []string{"onboard", "--registrar-url", registrarURL, "--mode", mode,
		"--idevid-cert", dev.Cert, "--idevid-key", dev.Key,
		"--manufacturer-anchor", filepath.Join(trust, "manufacturer-anchor.crt")}
	if mode != modeDirect {
		a = append(a, "--outer-ca", filepath.Join(trust, "outer-ca.crt"))
	}
	return append(a, "--out", out)
}

// runPledge runs `pledge onboard` as a process, printing its steps.
func (d *demo) runPledge(ctx context.Context, args []string) error {
	cmd := exec.CommandContext(ctx, d.pledgeBin, args...)
	var buf strings.Builder
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	d.sayIndented(buf.String())
	if err != nil {
		return fmt.Errorf("pledge onboard: %w", err)
	}
	return nil
}

// start runs a service and waits until its readiness endpoint answers.
func (d *demo) start(ctx context.Context, name, bin, ready string, args ...string) (*child, error) {
	c, err := start(d.o.dir, name, bin, args...)
	if err != nil {
		return nil, err
	}
	d.children = append(d.children, c)
	if err := c.waitReady(ctx, ready, readyLimit); err != nil {
		return nil, err
	}
	return c, nil
}

// stopAll stops the load balancer and every child, newest first.
func (d *demo) stopAll() error {
	if d.lb != nil {
		d.lb.Close()
	}
	var errs []error
	for i := len(d.children) - 1; i >= 0; i-- {
		c := d.children[i]
		err := c.stop(stopGrace)
		status := "exit 0"
		if err != nil {
			status = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
		}
		d.say("   stopped %-9s (pid %d, %s)", c.name, c.cmd.Process.Pid, status)
	}
	d.children = nil
	return errors.Join(errs...)
}

// build compiles the three binaries with the go tool, or finds them in --bin.
func (d *demo) build(ctx context.Context) error {
	bin := d.o.bin
	if bin == "" {
		bin = filepath.Join(d.o.dir, "bin")
		d.say("== go build -o %s ./cmd/masa ./cmd/registrar ./cmd/pledge", bin)
		root, err := moduleRoot(ctx)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./cmd/masa", "./cmd/registrar", "./cmd/pledge")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %w\n%s", err, b)
		}
	}
	d.masaBin, d.registrarBin, d.pledgeBin = filepath.Join(bin, "masa"), filepath.Join(bin, "registrar"), filepath.Join(bin, "pledge")
	for _, b := range []string{d.masaBin, d.registrarBin, d.pledgeBin} {
		if _, err := os.Stat(b); err != nil {
			return err
		}
	}
	return nil
}

// moduleRoot is the directory of Landfall's go.mod, from the go tool.
func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w (run the demo from the repository, or give --bin)", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the Landfall module: run the demo from the repository, or give --bin")
	}
	return filepath.Dir(gomod), nil
}

// freePorts reserves n loopback ports the services then listen on.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// nextSerial counts up the trailing digits of serial: DEMO-0001 → DEMO-0002.
func nextSerial(serial string) string {
	i := len(serial)
	for i > 0 && serial[i-1] >= '0' && serial[i-1] <= '9' {
		i--
	}
	if i == len(serial) {
		return serial + "-2"
	}
	n, _ := strconv.Atoi(serial[i:])
	return fmt.Sprintf("%s%0*d", serial[:i], len(serial)-i, n+1)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func dirOf(path string) string { return filepath.Dir(path) }
