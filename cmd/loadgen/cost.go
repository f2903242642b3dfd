package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/bench"
	"github.com/landfall-io/landfall/internal/pledge"
)

// What one onboarding costs: CPU seconds per process, PostgreSQL
// transactions and statements per database, and bytes on the wire between
// the devices and the load balancer (or, in direct mode, the replica).
// Each figure is a difference of two snapshots, one taken after the
// devices were minted and sold and one after the last onboarding, divided
// by the onboardings that succeeded.

// cpuSource is one process (or process tree) whose CPU seconds can be read.
type cpuSource struct {
	name string
	read func(ctx context.Context) (float64, error)
}

// costProbe takes the snapshots.
type costProbe struct {
	cpu   []cpuSource
	dbURL string // a PostgreSQL server's maintenance database; "" for none
	wire  *wireCounter
	// statsReady is created by the first snapshot: pg_stat_statements
	// exists or could be created there.
	statsReady bool
	statsErr   error
	// top > 0 lists the top statements by calls per onboarding.
	top int
}

// stmtCalls is one pg_stat_statements entry.
type stmtCalls struct {
	db, query string
	calls     int64
}

type costSnapshot struct {
	cpu     map[string]float64
	cpuErr  map[string]error
	machine float64 // busy CPU seconds of the whole machine
	xacts   map[string]int64
	stmts   map[string]int64
	byStmt  map[string]stmtCalls // database and queryid -> entry
	dbErr   error
	sent    int64
	recv    int64
	conns   int64
}

// pgFlushWait lets every backend publish its counters to pg_stat_database:
// PostgreSQL 15 and later flush a backend's at most once a second, and a
// backend that went idle within a second of its last flush only 10 s
// later (PGSTAT_IDLE_INTERVAL). pg_stat_statements has no such delay.
const pgFlushWait = 11 * time.Second

func (p *costProbe) snapshot(ctx context.Context) costSnapshot {
	s := costSnapshot{cpu: map[string]float64{}, cpuErr: map[string]error{}}
	if p.dbURL != "" {
		time.Sleep(pgFlushWait) // waiting for another process's statistics collector
		s.xacts, s.stmts, s.dbErr = p.pgStats(ctx)
		if s.dbErr == nil && p.top > 0 && p.statsReady {
			s.byStmt, s.dbErr = p.pgStatements(ctx)
		}
	}
	for _, c := range p.cpu {
		v, err := c.read(ctx)
		if err != nil {
			s.cpuErr[c.name] = err
			continue
		}
		s.cpu[c.name] = v
	}
	s.machine, _ = machineBusySeconds()
	if p.wire != nil {
		s.sent, s.recv, s.conns = p.wire.sent.Load(), p.wire.recv.Load(), p.wire.conns.Load()
	}
	return s
}

// pgStats reads, per database of the server other than the one probed
// from, the transactions (pg_stat_database: commits and rollbacks) and,
// when the pg_stat_statements module is loaded, the statements executed
// (calls, BEGIN and COMMIT included: with pgx each is about one round trip).
func (p *costProbe) pgStats(ctx context.Context) (map[string]int64, map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.dbURL)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(ctx)
	xacts := map[string]int64{}
	rows, err := conn.Query(ctx, `SELECT datname, xact_commit + xact_rollback FROM pg_stat_database
		WHERE datname IS NOT NULL AND datname NOT IN ('template0', 'template1') AND datname <> current_database()`)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, nil, err
		}
		xacts[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if !p.statsReady && p.statsErr == nil {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
			p.statsErr = err
		} else {
			p.statsReady = true
		}
	}
	if !p.statsReady {
		return xacts, nil, nil
	}
	stmts := map[string]int64{}
	rows, err = conn.Query(ctx, `SELECT d.datname, sum(s.calls)::bigint FROM pg_stat_statements s
		JOIN pg_database d ON d.oid = s.dbid WHERE d.datname <> current_database() GROUP BY d.datname`)
	if err != nil {
		p.statsErr, p.statsReady = err, false
		return xacts, nil, nil
	}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, nil, err
		}
		stmts[name] = n
	}
	return xacts, stmts, rows.Err()
}

// pgStatements reads every pg_stat_statements entry of the server's other
// databases.
func (p *costProbe) pgStatements(ctx context.Context) (map[string]stmtCalls, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT d.datname, s.queryid::text, s.query, s.calls FROM pg_stat_statements s
		JOIN pg_database d ON d.oid = s.dbid WHERE d.datname <> current_database()`)
	if err != nil {
		return nil, err
	}
	out := map[string]stmtCalls{}
	for rows.Next() {
		var e stmtCalls
		var id string
		if err := rows.Scan(&e.db, &id, &e.query, &e.calls); err != nil {
			return nil, err
		}
		e.query = strings.Join(strings.Fields(e.query), " ")
		if len(e.query) > 110 {
			e.query = e.query[:110] + "..."
		}
		out[e.db+"/"+id] = e
	}
	return out, rows.Err()
}

// report prints the per-onboarding figures between before and after.
func (p *costProbe) report(w io.Writer, before, after costSnapshot, ok int, elapsed time.Duration) {
	if ok == 0 {
		return
	}
	per := float64(ok)
	fmt.Fprintf(w, "\nper onboarding (%d succeeded, %s):\n", ok, elapsed.Round(time.Millisecond))
	for _, c := range p.cpu {
		if err := after.cpuErr[c.name]; err != nil {
			fmt.Fprintf(w, "  cpu   %-52s unmeasured: %v\n", c.name, err)
			continue
		}
		if err := before.cpuErr[c.name]; err != nil {
			fmt.Fprintf(w, "  cpu   %-52s unmeasured: %v\n", c.name, err)
			continue
		}
		d := after.cpu[c.name] - before.cpu[c.name]
		fmt.Fprintf(w, "  cpu   %-52s %8.2f ms  (%.0f%% of one core)\n", c.name, d/per*1000, d/elapsed.Seconds()*100)
	}
	if m := after.machine - before.machine; m > 0 {
		fmt.Fprintf(w, "  cpu   %-52s %8.2f ms  (%.0f%% of one core)\n", "whole machine (every process, other users' too)", m/per*1000, m/elapsed.Seconds()*100)
	}
	if p.dbURL != "" {
		if after.dbErr != nil || before.dbErr != nil {
			fmt.Fprintf(w, "  db    unmeasured: %v\n", errors.Join(before.dbErr, after.dbErr))
		} else {
			var names []string
			for n := range after.xacts {
				names = append(names, n)
			}
			sort.Strings(names)
			var tx, st int64
			for _, n := range names {
				dx := after.xacts[n] - before.xacts[n]
				tx += dx
				line := fmt.Sprintf("  db    %-20s %6.2f transactions", n, float64(dx)/per)
				if after.stmts != nil {
					ds := after.stmts[n] - before.stmts[n]
					st += ds
					line += fmt.Sprintf(", %6.2f statements", float64(ds)/per)
				}
				fmt.Fprintln(w, line)
			}
			line := fmt.Sprintf("  db    %-20s %6.2f transactions", "all", float64(tx)/per)
			if after.stmts != nil {
				line += fmt.Sprintf(", %6.2f statements (pg_stat_statements calls, BEGIN/COMMIT included)", float64(st)/per)
			} else {
				line += fmt.Sprintf("; statements unmeasured (pg_stat_statements: %v)", p.statsErr)
			}
			fmt.Fprintln(w, line)
			p.reportTop(w, before, after, per)
		}
	}
	if p.wire != nil {
		s, r, c := after.sent-before.sent, after.recv-before.recv, after.conns-before.conns
		fmt.Fprintf(w, "  wire  %8.0f bytes (%.0f sent by the device, %.0f received), %.2f TCP connections\n",
			float64(s+r)/per, float64(s)/per, float64(r)/per, float64(c)/per)
	}
}

func (p *costProbe) reportTop(w io.Writer, before, after costSnapshot, per float64) {
	if p.top <= 0 || after.byStmt == nil {
		return
	}
	var list []stmtCalls
	for k, e := range after.byStmt {
		e.calls -= before.byStmt[k].calls
		if e.calls > 0 {
			list = append(list, e)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].calls > list[j].calls })
	fmt.Fprintln(w, "  db    top statements, calls per onboarding:")
	for i, e := range list {
		if i == p.top {
			break
		}
		fmt.Fprintf(w, "  db    %6.2f  %-9s %s\n", float64(e.calls)/per, e.db, e.query)
	}
}

// selfCPU is this process's CPU seconds, every thread, user and system.
func selfCPU(context.Context) (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return tv(ru.Utime) + tv(ru.Stime), nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// clockTicks is USER_HZ, the unit of /proc's times: 100 on Linux.
const clockTicks = 100

// procTreeCPU is the CPU seconds of root and every live descendant, each
// with its reaped children's (cutime, cstime): a child that exited since
// the last reading is counted in its parent's.
func procTreeCPU(root int) (float64, error) {
	procs, err := readProcs()
	if err != nil {
		return 0, err
	}
	if _, ok := procs[root]; !ok {
		return 0, fmt.Errorf("process %d not found", root)
	}
	var total float64
	var walk func(pid int)
	walk = func(pid int) {
		p := procs[pid]
		total += p.ticks
		for _, c := range p.children {
			walk(c)
		}
	}
	for pid, p := range procs {
		if p.ppid != 0 {
			if parent, ok := procs[p.ppid]; ok {
				parent.children = append(parent.children, pid)
			}
		}
	}
	walk(root)
	return total / clockTicks, nil
}

type procInfo struct {
	ppid     int
	ticks    float64 // utime + stime + cutime + cstime
	children []int
}

func readProcs() (map[int]*procInfo, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	out := map[int]*procInfo{}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		// state ppid pgrp session tty tpgid flags minflt cminflt majflt
		// cmajflt utime stime cutime cstime ...
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		var ticks float64
		for _, k := range fields[11:15] {
			v, _ := strconv.ParseFloat(k, 64)
			ticks += v
		}
		out[pid] = &procInfo{ppid: ppid, ticks: ticks}
	}
	return out, nil
}

// postmasterOn finds the PostgreSQL server listening on port among this
// machine's processes: its command line names the port (-p PORT), as
// internal/pgcluster starts it.
func postmasterOn(port int) (int, error) {
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	want := strconv.Itoa(port)
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "postgres" {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-p" && args[i+1] == want {
				return strconv.Atoi(filepath.Base(filepath.Dir(f)))
			}
		}
	}
	return 0, fmt.Errorf("no PostgreSQL server with -p %d", port)
}

// machineBusySeconds is the busy (non-idle, non-iowait) CPU time of every
// core since boot, from /proc/stat.
func machineBusySeconds() (float64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[0] != "cpu" {
			continue
		}
		var busy float64
		for i, k := range fields[1:] {
			if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is in user already
				continue
			}
			v, _ := strconv.ParseFloat(k, 64)
			busy += v
		}
		return busy / clockTicks, nil
	}
	return 0, errors.New("/proc/stat: no cpu line")
}

// scrapeCPU reads process_cpu_seconds_total from a Prometheus endpoint.
func scrapeCPU(client *http.Client, metricsURL, token string) func(ctx context.Context) (float64, error) {
	return func(ctx context.Context) (float64, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
		if err != nil {
			return 0, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s answered %d", metricsURL, resp.StatusCode)
		}
		return parseProcessCPU(resp.Body)
	}
}

// parseProcessCPU finds process_cpu_seconds_total in Prometheus's text format.
func parseProcessCPU(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "process_cpu_seconds_total")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		return strconv.ParseFloat(f[0], 64)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no process_cpu_seconds_total in the metrics")
}

// metricsClient trusts caFile (PEM) in addition to the system roots when set.
func metricsClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{Timeout: 60 * time.Second}, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

// profileURL is the pprof CPU profile endpoint on the listener of metricsURL.
func profileURL(metricsURL string, seconds int) (string, error) {
	u, err := url.Parse(metricsURL)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/metrics") + "/debug/pprof/profile"
	u.RawQuery = "seconds=" + strconv.Itoa(seconds)
	return u.String(), nil
}

// fetchProfile saves the server's CPU profile of the next seconds to file.
func fetchProfile(ctx context.Context, client *http.Client, metricsURL, token, file string, seconds int) error {
	u, err := profileURL(metricsURL, seconds)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := *client
	c.Timeout = time.Duration(seconds)*time.Second + time.Minute
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s answered %d: %s", u, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// wireCounter counts the bytes of every connection the devices open to
// the load balancer (or, in direct mode, to the replica).
type wireCounter struct {
	sent, recv, conns atomic.Int64
	mu                sync.Mutex
	relays            map[string]string // direct mode: target host -> counting relay's host
	clients           map[*http.Client]*http.Client
	closers           []func()
}

type countedConn struct {
	net.Conn
	w *wireCounter
}

func (c *countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.w.recv.Add(int64(n))
	return n, err
}

// Write counts before writing, as countingWriter does: the transport's
// writer goroutine may otherwise count after the answer is back.
func (c *countedConn) Write(b []byte) (int, error) {
	c.w.sent.Add(int64(len(b)))
	n, err := c.Conn.Write(b)
	c.w.sent.Add(int64(n - len(b)))
	return n, err
}

// transport returns a twin of rt that counts the bytes of the TCP
// connections it dials (below TLS, so TLS records count whole); a
// transport other than *http.Transport is returned as is, uncounted.
func (w *wireCounter) transport(rt http.RoundTripper) (http.RoundTripper, bool) {
	t, ok := rt.(*http.Transport)
	if !ok {
		return rt, false
	}
	twin := t.Clone()
	dial := twin.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	twin.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		w.conns.Add(1)
		return &countedConn{Conn: c, w: w}, nil
	}
	return twin, true
}

// relayFor returns the host of a counting TCP relay to target (host:port),
// started on first use: direct mode dials the replica with a transport of
// the pledge's own, so its bytes are counted by relaying them. The relay
// costs this process a copy of each flight.
func (w *wireCounter) relayFor(target string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h, ok := w.relays[target]; ok {
		return h, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go w.relay(c, target)
		}
	}()
	if w.relays == nil {
		w.relays = map[string]string{}
	}
	w.relays[target] = l.Addr().String()
	w.closers = append(w.closers, func() { l.Close() })
	return l.Addr().String(), nil
}

func (w *wireCounter) relay(c net.Conn, target string) {
	defer c.Close()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	w.conns.Add(1)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn, n *atomic.Int64) {
		_, _ = io.Copy(countingWriter{dst, n}, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c, &w.sent)
	go pipe(c, up, &w.recv)
	<-done
	<-done
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

// Write counts b before passing it on, so that the count includes a
// request by the time its answer can come back; what fails to go out is
// taken off again.
func (c countingWriter) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	k, err := c.w.Write(b)
	c.n.Add(int64(k - len(b)))
	return k, err
}

// client returns a twin of c whose transport counts its connections'
// bytes, one twin per client so that connections stay pooled.
func (w *wireCounter) client(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.clients == nil {
		w.clients = map[*http.Client]*http.Client{}
	}
	if t, ok := w.clients[c]; ok {
		return t
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	twin := *c
	twin.Transport, _ = w.transport(rt)
	w.clients[c] = &twin
	return &twin
}

func (w *wireCounter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.closers {
		c()
	}
	w.closers = nil
}

// viaRelay points a direct-mode registrar URL at its counting relay.
func (w *wireCounter) viaRelay(registrarURL string) (string, error) {
	u, err := url.Parse(registrarURL)
	if err != nil {
		return "", err
	}
	h, err := w.relayFor(u.Host)
	if err != nil {
		return "", err
	}
	u.Host = h
	return u.String(), nil
}

// floorReport times the crypto floor of one onboarding (internal/bench)
// runs times in this process, after the load, and divides the CPU per
// onboarding of the measured processes by it. In the sandbox the
// process's CPU includes the pledges' and cannot be split without a
// profile (--profile, label role=pledge).
func floorReport(w io.Writer, runs int, mode string, before, after costSnapshot, sources []cpuSource, ok int, sandboxed bool) {
	f, err := bench.New()
	if err != nil {
		fmt.Fprintf(w, "crypto floor: %v\n", err)
		return
	}
	outer := mode != pledge.ModeDirect
	per, err := f.Time(runs, outer)
	if err != nil {
		fmt.Fprintf(w, "crypto floor: %v\n", err)
		return
	}
	what := "inner handshake, vouchers, enrollment"
	if outer {
		what = "outer TLS at the balancer, " + what
	}
	fmt.Fprintf(w, "\ncrypto floor of one onboarding (%s; %d runs, one core): %.2f ms\n", what, runs, per.Seconds()*1000)
	var total float64
	for _, s := range sources {
		if after.cpuErr[s.name] != nil || before.cpuErr[s.name] != nil {
			continue
		}
		d := (after.cpu[s.name] - before.cpu[s.name]) / float64(ok)
		if sandboxed || !strings.HasPrefix(s.name, "loadgen process") {
			total += d
		}
		fmt.Fprintf(w, "  %-52s %6.2f x floor\n", s.name, d/per.Seconds())
	}
	label := "all measured processes"
	if sandboxed {
		label += ", pledges included"
	} else {
		label += ", pledges excluded"
	}
	fmt.Fprintf(w, "  %-52s %6.2f x floor\n", label, total/per.Seconds())
}
