package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// child is one service the demo started as an operating-system process, in
// a process group of its own: a Ctrl-C at the terminal reaches only the
// demo, which then stops every child with SIGTERM and waits for it.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // the exit, once done is closed
}

// start runs bin with args, its stdout and stderr appended to
// dir/logs/<name>.log.
func start(dir, name, bin string, args ...string) (*child, error) {
	logPath := filepath.Join(dir, "logs", name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the child's process group and waits for it to
// exit, killing the group after grace. It returns the exit error, nil for
// a clean exit.
func (c *child) stop(grace time.Duration) error {
	if !c.exited() {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(grace):
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
			<-c.done
			return fmt.Errorf("%s did not stop within %s after SIGTERM; killed", c.name, grace)
		}
	}
	return c.err
}

// logTail is the end of the child's log, for error messages.
func (c *child) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// waitReady polls url until it answers 200, the child exits or ctx ends.
func (c *child) waitReady(ctx context.Context, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before it was ready (%v); its log:\n%s", c.name, c.err, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s within %s: %w; its log:\n%s", c.name, url, limit, ctx.Err(), c.logTail())
		case <-tick.C:
		}
	}
}

// storeLine finds the line of the child's log that names its store and
// returns it: the registrar logs {"msg":"store","backend":...,"path":...},
// the MASA {"msg":"database schema",...,"store":"sqlite /path"}.
func (c *child) storeLine() string {
	b, _ := os.ReadFile(c.logPath)
	for _, line := range strings.Split(string(b), "\n") {
		if v := jsonField(line, "store"); v != "" {
			return v
		}
		if jsonField(line, "msg") != "store" {
			continue
		}
		var parts []string
		for _, k := range []string{"backend", "path", "host", "database"} {
			if v := jsonField(line, k); v != "" {
				parts = append(parts, v)
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// jsonField extracts a string member from one JSON log line without
// caring about the others.
func jsonField(line, key string) string {
	i := strings.Index(line, `"`+key+`":"`)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key)+4:]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// runOnce runs a one-shot command of a binary and returns its stdout;
// stderr is returned inside the error when it fails.
func runOnce(ctx context.Context, bin string, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), stderr.String(), fmt.Errorf("%s %s: %w\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String(), nil
}

var errStopped = errors.New("stopped")
