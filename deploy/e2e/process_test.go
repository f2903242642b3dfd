package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
)

// proc is one service running as an OS process, its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// start runs bin with args and env (added to a PATH and HOME of this
// process's, nothing else) in its own process group, so that a kill
// reaches its children too (nginx's workers).
func start(t *testing.T, dir, name, bin string, args, env []string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(dir, "logs", name+".log"), done: make(chan struct{})}
	if err := os.MkdirAll(filepath.Dir(p.log), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(baseEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// baseEnv is the environment every service inherits: where programs are
// and a home, not this process's LANDFALL_* settings.
func baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH") + ":/usr/sbin:/sbin", "HOME=" + os.TempDir(), "LC_ALL=C"}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (what `docker compose stop` sends) and waits for the
// process group; after 20 s it kills it.
func (p *proc) stop(t testing.TB) {
	if p.exited() {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Logf("%s did not stop on SIGTERM within 20 s; killing it", p.name)
		p.kill()
	}
}

// kill sends SIGKILL to the process group and waits for the process.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// tail is the end of the process's log.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// run runs a one-shot command (masa-init, registrar-init, token create)
// to completion and returns its standard output.
func run(t *testing.T, bin string, args, env []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(baseEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// waitFor polls cond until it holds or deadline passes; p, when not nil,
// must not exit meanwhile. Polling is the only way to see a readiness
// endpoint or a table change in another process.
func waitFor(t *testing.T, what string, timeout time.Duration, p *proc, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if p != nil && p.exited() {
			t.Fatalf("%s: %s exited (%v) while waiting; last: %s\n%s", what, p.name, p.err, last, p.tail())
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s: not within %v; last: %s", what, timeout, last)
			if p != nil {
				msg += "\n" + p.tail()
			}
			t.Fatal(msg)
		}
		<-tick.C
	}
}

// status GETs url with c and returns the status and Retry-After.
func status(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// waitReady waits until url answers 200.
func waitReady(t *testing.T, p *proc, url string, c *http.Client) {
	t.Helper()
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Second}
	}
	waitFor(t, p.name+" ready at "+url, 60*time.Second, p, func() (bool, string) {
		code, _, err := status(c, url)
		return code == http.StatusOK, fmt.Sprintf("%d %v", code, err)
	})
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, p *proc, addr string) {
	t.Helper()
	waitFor(t, p.name+" listening on "+addr, 30*time.Second, p, func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// tlsClient trusts roots only.
func tlsClient(roots ...*x509.Certificate) *http.Client {
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func freePort(t *testing.T) int {
	t.Helper()
	_, port, err := net.SplitHostPort(testkit.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
