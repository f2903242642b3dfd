package e2e_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
)

// load is one run of cmd/loadgen against the deployment, as an operator
// would point it at a deployment: registrar URL, trust anchors, the
// MASA's factory and sales API and the owner's domain CA.
type load struct {
	prefix  string
	devices int
	cmd     *exec.Cmd
	out     bytes.Buffer // everything it printed
	mu      sync.Mutex
	seen503 atomic.Int64 // from its progress line, live
	done    chan struct{}
	err     error
}

var progress503 = regexp.MustCompile(`\] (\d+)/(\d+), (\d+) failed, (\d+) answered 503`)

// startLoad starts loadgen for devices devices named prefix-NNNNNN, c at
// a time, in mode, after putting them on the allow-list; extra are more
// loadgen options.
func (d *deployment) startLoad(t *testing.T, prefix, mode string, devices, c int, extra ...string) *load {
	t.Helper()
	serials := make([]string, devices)
	for i := range serials {
		serials[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	d.allow(t, serials)
	url := d.lbURL
	if mode == pledge.ModeCoAPOSCORE {
		// nginx's UDP balancer over the replicas' CoAP listeners, which
		// compose publishes on the host (5683:5683/udp).
		url = d.lbCoAPURL
	}
	if mode == "direct" {
		// registrar-a's direct mutual-TLS listener, which compose
		// publishes on the host (8444:8443).
		url = "https://" + d.m.flagValue("registrar-a", "--listen-direct")
	}
	l := &load{prefix: prefix, devices: devices, done: make(chan struct{})}
	args := []string{"--devices", strconv.Itoa(devices), "--concurrency", strconv.Itoa(c), "--mode", mode,
		"--registrar-url", url, "--outer-ca", d.files["outer-ca"],
		"--manufacturer-anchor", d.files["manufacturer-anchor"], "--masa-cert", d.files["masa-cert"],
		"--masa-admin-url", d.masaAdminURL(), "--factory-token", d.factoryTok, "--sales-token", d.saleTok,
		"--owner-ca", d.files["owner-ca"], "--serial-prefix", prefix, "--progress=true"}
	l.cmd = exec.Command(filepath.Join(d.bin, "loadgen"), append(args, extra...)...)
	l.cmd.Env = baseEnv()
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := l.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	l.cmd.Stderr = l.cmd.Stdout
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Split(scanProgress)
		for sc.Scan() {
			line := sc.Text()
			l.mu.Lock()
			l.out.WriteString(line + "\n")
			l.mu.Unlock()
			if m := progress503.FindStringSubmatch(line); m != nil {
				n, _ := strconv.ParseInt(m[4], 10, 64)
				l.seen503.Store(n)
			}
		}
		l.err = l.cmd.Wait()
		close(l.done)
	}()
	t.Cleanup(func() {
		select {
		case <-l.done:
		default:
			syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
			<-l.done
		}
	})
	return l
}

// scanProgress splits at \n and at the progress bar's \r.
func scanProgress(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// result is what loadgen reported at the end.
type result struct {
	succeeded, failed int
	answers           map[string]int // "503", "503-with-retry-after", ...
	report            string
}

var (
	summaryLine = regexp.MustCompile(`(\d+) succeeded, (\d+) failed`)
	answersLine = regexp.MustCompile(`(?m)^HTTP answers:(.*)$`)
)

// wait waits for loadgen to end and parses its report; an unparseable
// report fails the test, a failed onboarding does not (the caller judges).
func (l *load) wait(t *testing.T) result {
	t.Helper()
	<-l.done
	l.mu.Lock()
	out := l.out.String()
	l.mu.Unlock()
	// The final report, without the progress bar's redraws.
	var report []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "[") && line != "" {
			report = append(report, line)
		}
	}
	r := result{answers: map[string]int{}, report: strings.Join(report, "\n")}
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("loadgen %s: %v; no summary:\n%s", l.prefix, l.err, r.report)
	}
	r.succeeded, _ = strconv.Atoi(m[1])
	r.failed, _ = strconv.Atoi(m[2])
	if a := answersLine.FindStringSubmatch(out); a != nil {
		for _, kv := range strings.Fields(a[1]) {
			k, v, _ := strings.Cut(kv, "=")
			r.answers[k], _ = strconv.Atoi(v)
		}
	}
	if (l.err == nil) != (r.failed == 0) {
		t.Errorf("loadgen %s exited with %v but reported %d failures", l.prefix, l.err, r.failed)
	}
	return r
}
