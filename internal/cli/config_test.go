package cli

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newSet() (*flag.FlagSet, *string, *int, *time.Duration, *string) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a := fs.String("listen-addr", ":8443", "address")
	n := fs.Int("max-sessions", 10, "cap")
	d := fs.Duration("timeout", time.Second, "timeout")
	l := fs.String("trusted-proxies", "", "CIDRs")
	return fs, a, n, d, l
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("listen-addr: \":9000\"\nmax-sessions: 7\ntimeout: 5s\ntrusted-proxies: [10.0.0.0/8, 192.168.0.0/16]\n"), 0o600)
	env := map[string]string{"LF_MAX_SESSIONS": "8"}
	fs, a, n, d, l := newSet()
	err := Parse(fs, []string{"--config", path, "--timeout", "9s"}, "LF", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if *a != ":9000" || *n != 8 || *d != 9*time.Second || *l != "10.0.0.0/8,192.168.0.0/16" {
		t.Fatalf("got %q %d %v %q", *a, *n, *d, *l)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listen-adr: x\n"), 0o600)
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"unknown yaml key": {[]string{"--config", bad}, nil, `unknown option "listen-adr"`},
		"bad env value":    {nil, map[string]string{"LF_MAX_SESSIONS": "many"}, "LF_MAX_SESSIONS"},
		"missing file":     {[]string{"--config", filepath.Join(dir, "none")}, nil, "no such file"},
		"unknown flag":     {[]string{"--nope"}, nil, "not defined"},
	}
	for name, c := range cases {
		fs, _, _, _, _ := newSet()
		err := Parse(fs, c.args, "LF", func(k string) string { return c.env[k] })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestUsageNamesEveryOptionAndItsVariable(t *testing.T) {
	fs, _, _, _, _ := newSet()
	var b strings.Builder
	fs.SetOutput(&b)
	fs.Usage = Usage(&b, fs, "LF", "usage: t [options]")
	if err := Parse(fs, []string{"--help"}, "LF", func(string) string { return "" }); !IsHelp(err) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"--listen-addr", "LF_LISTEN_ADDR", "--max-sessions", "LF_TIMEOUT", "--config", "(default :8443)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
}
