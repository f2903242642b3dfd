package main

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/pledge/pledgecli"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/pkg/atls"
)

// loadRateLimit switches the sandbox's limit of new ATLS sessions per
// client address (atls.DefaultRateLimit, 100/s with a burst of 200) off:
// every virtual device of one load generator comes from the same client
// address, so the default limit would measure the limiter, not the
// registrar. A real deployment keeps its operator's limit.
var loadRateLimit = atls.RateLimit{PerSecond: -1}

// load runs N virtual devices against a deployment with concurrency C and
// reports successes, failures by reason, the onboarding rate and the
// latency percentiles of every step.
func load(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = cli.Usage(stdout, fs, envPrefix, "usage: loadgen [options]\n\nOnboards N virtual devices, C at a time, and prints a table of the results.\nWith --sandbox it first starts its own deployment on this machine (PostgreSQL,\nMASA, two registrar replicas, a TLS-terminating load balancer) and mints the\ndevices' IDevIDs through its MASA. Against a real deployment the operator's\nlimits apply, among them the registrar's rate of new ATLS sessions per client\naddress: one load generator is one client address.")
	n := fs.Int("devices", 100, "number of virtual devices")
	c := fs.Int("concurrency", 16, "devices onboarding at once")
	sb := fs.Bool("sandbox", false, "start a whole deployment here (PostgreSQL, MASA, two replicas, a load balancer) and load it")
	embedded := fs.Bool("embedded", false, "with --sandbox: one registrar and the MASA on the embedded SQLite store instead (no PostgreSQL)")
	var target pledgecli.Flags
	target.Register(fs, false)
	mode := &target.Mode
	masaAdmin := fs.String("masa-admin-url", "", "MASA factory and sales API base URL, to mint IDevIDs (without --sandbox)")
	factoryTok := fs.String("factory-token", "", "MASA token of role factory (without --sandbox)")
	salesTok := fs.String("sales-token", "", "MASA token of role sales, to sell the devices to --owner-ca (without --sandbox)")
	ownerCA := fs.String("owner-ca", "", "PEM file: the owner's domain CA certificate the devices are sold to (without --sandbox)")
	prefix := fs.String("serial-prefix", "LOAD", "prefix of the virtual devices' serial numbers")
	handshakes := fs.Bool("handshake-only", false, "measure handshakes alone: the mode's, then direct TLS to the same deployment as the baseline (needs --sandbox)")
	progress := fs.Bool("progress", true, "draw a live progress bar")
	useNginx := fs.Bool("nginx", false, "put a real nginx (TLS termination) in front of the replicas instead of the in-process balancer")
	affinity := fs.Bool("nginx-affinity", true, "with --nginx: keep each client connection on one replica (hash of its address and port), as deploy/nginx.conf does; false balances every request round-robin")
	regMetrics := fs.String("registrar-metrics-url", "", "comma-separated: each registrar replica's Prometheus endpoint (admin listener, /metrics), for its CPU per onboarding (without --sandbox)")
	masaMetrics := fs.String("masa-metrics-url", "", "the MASA's Prometheus endpoint (admin listener, /metrics), for its CPU per onboarding (without --sandbox)")
	metricsTok := fs.String("metrics-token", "", "bearer token sent to the metrics and profile endpoints (the registrar's need role auditor)")
	metricsCA := fs.String("metrics-ca", "", "PEM file: CA of https metrics endpoints, beside the system roots")
	dbURL := fs.String("database-url", "", "PostgreSQL URL of a maintenance database (postgres) on the deployment's server, for transactions and statements per onboarding of its other databases (without --sandbox; the sandbox's own is used otherwise)")
	profileDir := fs.String("profile", "", "directory to write CPU profiles of the servers into: with --sandbox the whole process over the load (pledge goroutines labelled role=pledge), otherwise each metrics URL's /debug/pprof/profile")
	profileSecs := fs.Int("profile-seconds", 20, "without --sandbox: length of each server's CPU profile, from the start of the load")
	dbTop := fs.Int("db-top", 0, "list this many statements with the most calls per onboarding (pg_stat_statements)")
	floorRuns := fs.Int("floor", 0, "after the load, time the crypto floor (internal/bench) this many times, single-threaded, and report server CPU per onboarding divided by it")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return err
	}
	if *n < 1 || *c < 1 {
		return errors.New("--devices and --concurrency must be positive")
	}
	var configFor func(mode string, idevid tls.Certificate) pledge.Config
	var mint func(ctx context.Context, serial string) (tls.Certificate, error)
	var sell func(ctx context.Context, serials []string) error
	var directConfig func(idevid tls.Certificate) pledge.Config
	probe := &costProbe{wire: &wireCounter{}, top: *dbTop}
	defer probe.wire.close()
	var profiles []func(ctx context.Context) error
	if *profileDir != "" {
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			return err
		}
	}
	if *sb {
		fmt.Fprintln(stdout, "starting the sandbox deployment...")
		start := sandbox.StartStandalone
		if *embedded {
			start = func(ctx context.Context, o sandbox.Options) (*sandbox.Deployment, error) {
				o.Embedded = true
				return sandbox.Start(ctx, o)
			}
		}
		// coap-oscore reaches the first replica's CoAP listener directly,
		// or with --nginx nginx's UDP balancer in front of all of them.
		d, err := start(ctx, sandbox.Options{RateLimit: loadRateLimit, CoAP: *mode == pledge.ModeCoAPOSCORE})
		if err != nil {
			return err
		}
		defer d.Close()
		servers := "pledges, registrars, MASA and balancer"
		if *useNginx {
			servers = "pledges, registrars and MASA"
		}
		probe.cpu = append(probe.cpu, cpuSource{"loadgen process (" + servers + ": one process)", selfCPU})
		if d.DatabasePort != 0 {
			probe.dbURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", d.DatabasePort)
			port := d.DatabasePort
			probe.cpu = append(probe.cpu, cpuSource{"PostgreSQL (postmaster and backends)", func(context.Context) (float64, error) {
				pid, err := postmasterOn(port)
				if err != nil {
					return 0, err
				}
				return procTreeCPU(pid)
			}})
		}
		*masaAdmin, *factoryTok, *salesTok = d.MASAAdmin.URL, d.FactoryToken, d.SalesToken
		ownerPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.State.DomainRoot.Raw})
		f := &factory{adminURL: *masaAdmin, factoryTok: *factoryTok, saleTok: *salesTok, client: http.DefaultClient}
		mint = f.mint
		sell = func(ctx context.Context, serials []string) error { return f.sell(ctx, serials, ownerPEM) }
		configFor = d.PledgeConfig
		directConfig = func(idevid tls.Certificate) pledge.Config { return d.PledgeConfig(pledge.ModeDirect, idevid) }
		if *useNginx {
			// In coap-oscore mode nginx's stream module balances the
			// replicas' CoAP listeners per datagram as well.
			o := sandbox.NginxOptions{HTTP: d.Publics, ConnectionAffinity: *affinity}
			for _, l := range d.CoAP {
				o.CoAP = append(o.CoAP, l.Addr().(*net.UDPAddr).AddrPort())
			}
			ngx, err := sandbox.StartNginxWith(ctx, o)
			if err != nil {
				return err
			}
			defer ngx.Stop()
			fmt.Fprintf(stdout, "nginx at %s\n", ngx.URL)
			if ngx.CoAP.IsValid() {
				fmt.Fprintf(stdout, "nginx UDP balancer at coap://%s\n", ngx.CoAP)
			}
			pgid := ngx.ProcessGroup()
			probe.cpu = append(probe.cpu, cpuSource{"nginx (master and worker)", func(context.Context) (float64, error) { return procTreeCPU(pgid) }})
			configFor = func(mode string, idevid tls.Certificate) pledge.Config {
				cfg := d.PledgeConfig(mode, idevid)
				switch mode {
				case pledge.ModeDirect:
				case pledge.ModeCoAPOSCORE:
					cfg.RegistrarURL = "coap://" + ngx.CoAP.String()
				default:
					cfg.RegistrarURL, cfg.HTTP = ngx.URL, ngx.Client()
				}
				return cfg
			}
		}
	} else {
		if *masaAdmin == "" || *factoryTok == "" || *salesTok == "" || *ownerCA == "" || target.RegistrarURL == "" || target.Anchor == "" {
			return errors.New("without --sandbox: --registrar-url, --manufacturer-anchor, --masa-admin-url, --factory-token, --sales-token and --owner-ca are required")
		}
		ownerPEM, err := os.ReadFile(*ownerCA)
		if err != nil {
			return err
		}
		f := &factory{adminURL: *masaAdmin, factoryTok: *factoryTok, saleTok: *salesTok, client: http.DefaultClient}
		mint = f.mint
		sell = func(ctx context.Context, serials []string) error { return f.sell(ctx, serials, ownerPEM) }
		base, err := target.BaseConfig()
		if err != nil {
			return err
		}
		configFor = func(mode string, idevid tls.Certificate) pledge.Config {
			cfg := *base
			cfg.Mode, cfg.IDevID = mode, idevid
			return cfg
		}
		probe.cpu = append(probe.cpu, cpuSource{"loadgen process (pledges only)", selfCPU})
		probe.dbURL = *dbURL
		mc, err := metricsClient(*metricsCA)
		if err != nil {
			return err
		}
		var targets [][2]string
		for _, u := range strings.Split(*regMetrics, ",") {
			if u = strings.TrimSpace(u); u != "" {
				targets = append(targets, [2]string{"registrar", u})
			}
		}
		if u := strings.TrimSpace(*masaMetrics); u != "" {
			targets = append(targets, [2]string{"masa", u})
		}
		for _, t := range targets {
			host := t[1]
			if pu, err := url.Parse(t[1]); err == nil {
				host = pu.Host
			}
			name := t[0] + " " + host
			probe.cpu = append(probe.cpu, cpuSource{name, scrapeCPU(mc, t[1], *metricsTok)})
			if *profileDir != "" {
				file := filepath.Join(*profileDir, strings.NewReplacer(":", "_", "/", "_", " ", "-").Replace(name)+".cpu.pprof")
				mu := t[1]
				profiles = append(profiles, func(ctx context.Context) error {
					return fetchProfile(ctx, mc, mu, *metricsTok, file, *profileSecs)
				})
			}
		}
	}
	ans := &answers{}
	if inner := configFor; inner != nil {
		// The devices' bytes are counted at their dialer in the ATLS
		// modes, through a counting relay in direct mode (whose transport
		// is the pledge's own). The handshake-only baseline
		// (directConfig) is not counted.
		configFor = func(mode string, idevid tls.Certificate) pledge.Config {
			cfg := inner(mode, idevid)
			if mode == pledge.ModeDirect {
				if u, err := probe.wire.viaRelay(cfg.RegistrarURL); err == nil {
					cfg.RegistrarURL = u
				}
			}
			cfg.HTTP = ans.wrap(probe.wire.client(cfg.HTTP))
			cfg.Constrained = cfg.Constrained || target.Constrained // the sandbox's configs lack the flag
			return cfg
		}
	}
	fmt.Fprintf(stdout, "minting %d IDevIDs through the MASA's factory API and selling them to the owner...\n", *n)
	devices := make([]tls.Certificate, *n)
	serials := make([]string, *n)
	for i := range devices {
		serials[i] = fmt.Sprintf("%s-%06d", *prefix, i)
		var err error
		if devices[i], err = mint(ctx, serials[i]); err != nil {
			return err
		}
	}
	if err := sell(ctx, serials); err != nil {
		return err
	}
	if *handshakes {
		if directConfig == nil {
			return errors.New("--handshake-only needs --sandbox (the baseline dials a replica directly)")
		}
		return handshakeRun(ctx, stdout, *c, devices, func(d tls.Certificate) pledge.Config { return configFor(*mode, d) }, directConfig)
	}
	r := &loadRun{steps: map[string][]time.Duration{}, failures: map[string]int{}, answers: ans}
	before := probe.snapshot(ctx)
	stopProfile := func() {}
	profErrs := make(chan error, len(profiles))
	if *profileDir != "" && *sb {
		f, err := os.Create(filepath.Join(*profileDir, "sandbox.cpu.pprof"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	for _, p := range profiles {
		go func() { profErrs <- p(ctx) }()
	}
	start := time.Now()
	stopBar := r.drawProgress(stdout, *n, *progress)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n || ctx.Err() != nil {
					return
				}
				// Goroutines the pledge starts inherit the label; the
				// servers' (started by their listeners) do not, so a
				// sandbox profile tells pledge CPU from server CPU.
				pprof.Do(ctx, pprof.Labels("role", "pledge"), func(ctx context.Context) {
					res, _, err := pledge.OnboardRetrying(ctx, configFor(*mode, devices[i]), 5)
					r.record(res, err)
				})
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopBar()
	stopProfile()
	after := probe.snapshot(ctx)
	r.report(stdout, *mode, *c, elapsed)
	ok := len(r.total)
	probe.report(stdout, before, after, ok, elapsed)
	if *floorRuns > 0 && ok > 0 {
		floorReport(stdout, *floorRuns, *mode, before, after, probe.cpu, ok, *sb)
	}
	for range profiles {
		if err := <-profErrs; err != nil {
			fmt.Fprintf(stdout, "profile: %v\n", err)
		}
	}
	if *profileDir != "" {
		fmt.Fprintf(stdout, "CPU profiles in %s\n", *profileDir)
	}
	if r.failed.Load() > 0 {
		return fmt.Errorf("%d of %d onboardings failed", r.failed.Load(), *n)
	}
	return nil
}

type loadRun struct {
	mu       sync.Mutex
	steps    map[string][]time.Duration
	total    []time.Duration
	failures map[string]int
	done     atomic.Int64
	failed   atomic.Int64
	answers  *answers
}

func (r *loadRun) record(res *pledge.Result, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sum time.Duration
	if res != nil {
		for _, s := range res.Steps {
			if s.Err == nil {
				r.steps[s.Name] = append(r.steps[s.Name], s.Duration)
			}
			sum += s.Duration
		}
	}
	r.done.Add(1)
	if err != nil {
		r.failed.Add(1)
		r.failures[failureReason(err)]++
		return
	}
	r.total = append(r.total, sum)
}

// failureReason groups failures by step and status.
func failureReason(err error) string {
	var pe *pledge.Error
	if errors.As(err, &pe) {
		if pe.Status != 0 {
			return fmt.Sprintf("%s: HTTP %d", pe.Step, pe.Status)
		}
		return pe.Step + ": " + strings.SplitN(pe.Err.Error(), ":", 2)[0]
	}
	return err.Error()
}

// drawProgress redraws a one-line bar until the returned stop is called.
func (r *loadRun) drawProgress(w io.Writer, n int, enabled bool) func() {
	if !enabled {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			d := int(r.done.Load())
			bar := strings.Repeat("#", d*40/n) + strings.Repeat(".", 40-d*40/n)
			fmt.Fprintf(w, "\r[%s] %d/%d, %d failed, %d answered 503", bar, d, n, r.failed.Load(), r.answers.unavailable.Load())
			select {
			case <-stop:
				fmt.Fprintln(w)
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(stop); <-done }
}

func (r *loadRun) report(w io.Writer, mode string, c int, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := len(r.total)
	fmt.Fprintf(w, "\nmode %s, concurrency %d: %d succeeded, %d failed in %s: %.1f onboardings/s\n",
		mode, c, ok, r.failed.Load(), elapsed.Round(time.Millisecond), float64(ok)/elapsed.Seconds())
	fmt.Fprintln(w, r.answers.summary())
	if len(r.failures) > 0 {
		fmt.Fprintln(w, "failures:")
		for reason, k := range r.failures {
			fmt.Fprintf(w, "  %6d  %s\n", k, reason)
		}
	}
	fmt.Fprintf(w, "\n%-18s %8s %8s %8s %8s\n", "step", "count", "p50", "p95", "p99")
	for _, name := range append(stepOrder, "total") {
		d := r.steps[name]
		if name == "total" {
			d = r.total
		}
		if len(d) == 0 {
			continue
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		fmt.Fprintf(w, "%-18s %8d %8s %8s %8s\n", name, len(d), pct(d, 50), pct(d, 95), pct(d, 99))
	}
}

var stepOrder = []string{"connect", "requestvoucher", "validate voucher", "voucher_status", "cacerts", "csrattrs", "simpleenroll", "enrollstatus"}

func pct(sorted []time.Duration, p int) string {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(100 * time.Microsecond).String()
}

// handshakeRun measures handshakes per second in the chosen mode and then,
// in the same run and with the same devices, direct TLS handshakes to a
// replica as the baseline.
func handshakeRun(ctx context.Context, w io.Writer, c int, devices []tls.Certificate, mode, direct func(tls.Certificate) pledge.Config) error {
	measure := func(cfgOf func(tls.Certificate) pledge.Config) (float64, error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		var firstErr atomic.Value
		start := time.Now()
		for range c {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= len(devices) {
						return
					}
					if err := pledge.Handshake(ctx, cfgOf(devices[i])); err != nil {
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}()
		}
		wg.Wait()
		if err, ok := firstErr.Load().(error); ok {
			return 0, err
		}
		return float64(len(devices)) / time.Since(start).Seconds(), nil
	}
	rate, err := measure(mode)
	if err != nil {
		return err
	}
	base, err := measure(direct)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "handshakes/s: %.1f in this mode, %.1f direct TLS (baseline); ratio %.2f\n", rate, base, rate/base)
	return nil
}
