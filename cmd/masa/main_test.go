package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

func runCmd(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, func(k string) string { return env[k] })
	return out.String(), errb.String(), code
}

// TestCLIEndToEnd runs the binary's commands in order: init, migrate,
// token create, idevid issue, device import, serve with health checks
// and an authenticated admin call, then shutdown on cancel.
func TestCLIEndToEnd(t *testing.T) {
	dsn := testpg.Database(t)
	dir := t.TempDir()
	env := map[string]string{"LANDFALL_MASA_DATABASE_URL": dsn, "LANDFALL_MASA_KEY_DIR": filepath.Join(dir, "keys"),
		"LANDFALL_MASA_MASA_URL": "masa.example.com"}

	if out, errs, code := runCmd(t, env, "init", "--hosts", "localhost,127.0.0.1"); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	if _, errs, code := runCmd(t, env, "init"); code == 0 || !strings.Contains(errs, "refusing to overwrite") {
		t.Fatalf("second init: %d %s", code, errs)
	}
	if out, errs, code := runCmd(t, env, "migrate"); code != 0 || !strings.Contains(out, "version 1") {
		t.Fatalf("migrate: %d %s %s", code, out, errs)
	}
	secret, errs, code := runCmd(t, env, "token", "create", "--role", "admin", "--name", "ops")
	if code != 0 || !strings.HasPrefix(secret, "lfmasa_") {
		t.Fatalf("token create: %d %q %s", code, secret, errs)
	}
	secret = strings.TrimSpace(secret)
	// Stored hashed: the table holds the secret's SHA-256, never the secret.
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	var hashed, plain int
	conn.QueryRow(context.Background(), `SELECT count(*) FROM tokens WHERE secret_sha256 = $1`, sum[:]).Scan(&hashed)
	conn.QueryRow(context.Background(), `SELECT count(*) FROM tokens t WHERE strpos(t::text, $1) > 0`, secret).Scan(&plain)
	conn.Close(context.Background())
	if hashed != 1 || plain != 0 {
		t.Errorf("tokens: %d rows by hash, %d holding the secret", hashed, plain)
	}
	if _, errs, code := runCmd(t, env, "token", "create", "--role", "root", "--name", "x"); code == 0 {
		t.Fatalf("token with bad role accepted: %s", errs)
	}

	csr := testkit.CSR(t, testkit.Key(t), pkix.Name{SerialNumber: "CLI-0001"})
	csrFile := filepath.Join(dir, "dev.csr")
	os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), 0o600)
	out, errs, code := runCmd(t, env, "idevid", "issue", "--csr", csrFile, "--product", "widget")
	if code != 0 {
		t.Fatalf("idevid issue: %d %s", code, errs)
	}
	blk, _ := pem.Decode([]byte(out))
	idevid, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || idevid.Subject.SerialNumber != "CLI-0001" || !hasMASAURL(idevid, "masa.example.com") {
		t.Fatalf("IDevID: %v %+v", err, idevid.Subject)
	}

	csvFile := filepath.Join(dir, "devices.csv")
	os.WriteFile(csvFile, []byte("serial-number,product,idevid\nCLI-0002,widget,\nCLI-0003,widget,\n"), 0o600)
	if out, errs, code := runCmd(t, env, "device", "import", "--file", csvFile); code != 0 || !strings.Contains(out, "imported 2") {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	os.WriteFile(csvFile, []byte("serial-number,product,idevid\nCLI-0004,widget,\nCLI-0002,widget,\n"), 0o600)
	if _, errs, code := runCmd(t, env, "device", "import", "--file", csvFile); code == 0 || !strings.Contains(errs, "devices.csv:3: serial-number is already registered") {
		t.Fatalf("bad import: %d %s", code, errs)
	}

	listen, admin := testkit.FreeAddr(t), testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var serveErr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--listen", listen, "--admin-listen", admin}, &bytes.Buffer{}, &serveErr, func(k string) string { return env[k] })
	}()
	waitFor(t, "http://"+admin+"/healthz")
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	req, _ := http.NewRequest("GET", "http://"+admin+"/admin/v1/devices?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("devices: %v %v", err, resp)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if n := strings.Count(body.String(), "\n"); n != 4 {
		t.Errorf("CSV export has %d lines, want header + 3:\n%s", n, body.String())
	}
	// The device listener speaks TLS with the init certificate.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err = c.Post("https://"+listen+"/.well-known/brski/requestvoucher", "application/voucher-cms+json", strings.NewReader("x"))
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("device listener: %v %v", err, resp)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, serveErr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(serveErr.String(), `"msg":"shutting down"`) {
		t.Errorf("no JSON shutdown log: %s", serveErr.String())
	}
}

func hasMASAURL(c *x509.Certificate, url string) bool {
	for _, e := range c.Extensions {
		if e.Id.String() == "1.3.6.1.5.5.7.1.32" {
			return bytes.HasSuffix(e.Value, []byte(url)) && e.Value[0] == 0x16 // IA5String
		}
	}
	return false
}

func waitFor(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}

// TestConfigPrecedence: flag over environment over YAML file over default,
// through internal/cli as for the registrar.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "masa.yaml")
	os.WriteFile(file, []byte("listen: \":1111\"\nadmin-listen: \":2222\"\nretry-after: 5s\naudit-log-limit: 7\n"), 0o600)
	fs, o := serveFlags(io.Discard)
	env := map[string]string{"LANDFALL_MASA_ADMIN_LISTEN": ":3333", "LANDFALL_MASA_AUDIT_LOG_LIMIT": "9", "LANDFALL_MASA_CONFIG": file}
	if err := parse(fs, []string{"--audit-log-limit", "11"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if o.listen != ":1111" || o.adminListen != ":3333" || o.retryAfter != 5*time.Second || o.auditLogLimit != 11 || o.maxBody != 64<<10 {
		t.Errorf("options = %+v", o)
	}
	os.WriteFile(file, []byte("no-such-option: 1\n"), 0o600)
	fs2, _ := newFlagSet("t", "", io.Discard)
	if err := parse(fs2, nil, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "unknown option") {
		t.Errorf("unknown YAML option: %v", err)
	}
}

// TestHelpDocumentsEveryOption: every flag of every command appears in its
// --help with its environment variable, and the store options say what an
// empty database URL means.
func TestHelpDocumentsEveryOption(t *testing.T) {
	common := []string{"database-url", "db-max-conns", "key-dir", "masa-url", "log-level", "config"}
	for _, tc := range []struct {
		cmd   []string
		flags []string
	}{
		{[]string{"serve"}, []string{"listen", "admin-listen", "admin-tls", "client-auth", "max-body", "max-inflight", "max-import",
			"retry-after", "audit-log-limit", "migrate", "shutdown-timeout", "voucher-content-type"}},
		{[]string{"init"}, []string{"hosts", "organization", "import-ca-cert", "import-ca-key", "import-signer-cert", "import-signer-key"}},
		{[]string{"migrate"}, []string{"all"}},
		{[]string{"migrate", "down"}, []string{"all"}},
		{[]string{"migrate", "version"}, []string{"all"}},
		{[]string{"backup"}, []string{"out"}},
		{[]string{"token", "create"}, []string{"role", "name", "id"}},
		{[]string{"token", "list"}, []string{"role", "name", "id"}},
		{[]string{"token", "revoke"}, []string{"role", "name", "id"}},
		{[]string{"idevid", "issue"}, []string{"csr", "serial-number", "product", "out"}},
		{[]string{"device", "import"}, []string{"file", "format"}},
	} {
		out, _, code := runCmd(t, nil, append(tc.cmd, "--help")...)
		if code != 0 {
			t.Fatalf("%v --help exited %d", tc.cmd, code)
		}
		for _, f := range append(tc.flags, common...) {
			if !documents(out, f) {
				t.Errorf("%v --help lacks --%s with its environment variable", tc.cmd, f)
			}
		}
		if got, want := strings.Count(out, "\n  --"), len(tc.flags)+len(common); got != want {
			t.Errorf("%v --help lists %d options, this test knows %d: add the new one here", tc.cmd, got, want)
		}
		if !strings.Contains(out, "empty: one MASA on the embedded SQLite store <key-dir>/masa.db") {
			t.Errorf("%v --help does not say what an empty --database-url means", tc.cmd)
		}
	}
	out, _, _ := runCmd(t, nil, "migrate", "--help")
	for _, verb := range []string{"up", "down", "version", "--all"} {
		if !strings.Contains(out, verb) {
			t.Errorf("migrate --help does not explain %s", verb)
		}
	}
}

// documents reports whether help lists --flag followed by its variable
// LANDFALL_MASA_FLAG (internal/cli's layout: flag line, usage, env line).
func documents(help, flag string) bool {
	re := regexp.MustCompile(`(?m)^  --` + regexp.QuoteMeta(flag) + `( \S+)?\n.*\n\s+env LANDFALL_MASA_` +
		strings.ToUpper(strings.ReplaceAll(flag, "-", "_")) + `\n`)
	return re.MatchString(help)
}
