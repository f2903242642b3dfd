package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/pkg/atls"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

func noenv(string) string { return "" }

// Every option of every subcommand is documented by --help, with its
// environment variable.
func TestHelpDocumentsEveryOption(t *testing.T) {
	for _, sub := range [][]string{{"serve"}, {"init"}, {"migrate"}, {"backup"}, {"token", "create"}, {"pledge", "list"}, {"manufacturer", "add"}} {
		var out bytes.Buffer
		err := run(context.Background(), append(sub, "--help"), &out, io.Discard, noenv)
		if err == nil || !strings.Contains(err.Error(), "help") {
			t.Fatalf("%v --help: %v", sub, err)
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "  --") {
				name := strings.Fields(line)[0][2:]
				want := "env " + envPrefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
				if !strings.Contains(out.String(), want) {
					t.Errorf("%v: option %s lacks %q", sub, name, want)
				}
			}
		}
		if !strings.Contains(out.String(), "--config") {
			t.Errorf("%v: no --config option", sub)
		}
	}
}

// TestServeRunsAReplica initialises a state, starts `registrar serve` on
// PostgreSQL and, without a database URL, on the embedded store, completes
// ATLS handshakes in each mode through its public listener, runs the
// operator commands beside it, checks readiness, and shuts it down.
func TestServeRunsAReplica(t *testing.T) {
	t.Run("postgresql", func(t *testing.T) { testServe(t, testpg.Database(t)) })
	t.Run("sqlite", func(t *testing.T) { testServe(t, "") })
}

func testServe(t *testing.T, dsn string) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := run(context.Background(), []string{"init", "--state-dir", dir, "--domain", "example.net", "--dns-names", "registrar.example.net,localhost", "--ip-addresses", "127.0.0.1"}, io.Discard, io.Discard, noenv); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"init", "--state-dir", dir, "--domain", "example.net"}, io.Discard, io.Discard, noenv); err == nil {
		t.Fatal("init overwrote an existing state")
	}
	st, err := registrar.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkStateChains(t, st)

	pub, internal, admin, coapAddr := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)
	env := map[string]string{
		"LANDFALL_REGISTRAR_DATABASE_URL": dsn,
		"LANDFALL_REGISTRAR_STATE_DIR":    dir,
	}
	args := []string{"serve", "--replica-id", "r1", "--listen-public", pub, "--listen-internal", internal,
		"--listen-admin", admin, "--listen-direct", "", "--coap-listen", coapAddr}
	if dsn != "" {
		args = append(args, "--internal-url", "https://"+internal)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testkit.SyncBuffer
	go func() { done <- run(ctx, args, io.Discard, &logs, func(k string) string { return env[k] }) }()
	waitReady(t, "http://"+admin+"/readyz", done)
	if dsn == "" {
		if !strings.Contains(logs.String(), `"msg":"store","backend":"sqlite"`) {
			t.Errorf("serve without a database URL does not say it runs on the embedded store:\n%s", logs.String())
		}
		// A second registrar on the same state is a replica: refused.
		err := run(context.Background(), []string{"serve", "--replica-id", "r2", "--listen-public", testkit.FreeAddr(t),
			"--listen-internal", testkit.FreeAddr(t), "--listen-admin", testkit.FreeAddr(t), "--listen-direct", ""},
			io.Discard, io.Discard, func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "--database-url") {
			t.Fatalf("second registrar on the embedded store: %v", err)
		}
	}
	// An operator token from the CLI opens the admin API.
	var tok bytes.Buffer
	if err := run(context.Background(), []string{"token", "create", "--name", "ops", "--role", "auditor"}, &tok, io.Discard,
		func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	// Prometheus metrics and session counts on the admin listener, behind
	// an auditor's token (security review item 12).
	for _, path := range []string{"/metrics", "/atls/stats"} {
		if resp, err := http.Get("http://" + admin + path); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s without a token: %v %v", path, resp, err)
		}
	}
	metricsReq, _ := http.NewRequest(http.MethodGet, "http://"+admin+"/metrics", nil)
	metricsReq.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok.String()))
	if resp, err := http.DefaultClient.Do(metricsReq); err != nil || resp.StatusCode != 200 {
		t.Fatalf("metrics: %v %v", resp, err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "landfall_registrar_atls_sessions") {
			t.Fatalf("metrics lack the session gauge:\n%.500s", body)
		}
	}
	// Operator commands on the database: a manufacturer, a pledge decided.
	getenv := func(k string) string { return env[k] }
	anchor := filepath.Join(t.TempDir(), "anchor.pem")
	os.WriteFile(anchor, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: st.DomainRoot.Raw}), 0o600)
	var mfr bytes.Buffer
	if err := run(context.Background(), []string{"manufacturer", "add", "--name", "Acme", "--idevid-anchor", anchor}, &mfr, io.Discard, getenv); err != nil || !strings.Contains(mfr.String(), `"name": "Acme"`) {
		t.Fatalf("manufacturer add: %v %s", err, mfr.String())
	}
	mfr.Reset()
	if err := run(context.Background(), []string{"manufacturer", "add", "--name", "Bolt", "--idevid-anchor", anchor,
		"--ldevid-uri-template", "urn:dev:serial:{{.SerialNumber}}"}, &mfr, io.Discard, getenv); err != nil ||
		!strings.Contains(mfr.String(), `"ldevid_uri_template": "urn:dev:serial:{{.SerialNumber}}"`) {
		t.Fatalf("manufacturer add with a URI template: %v %s", err, mfr.String())
	}
	if err := run(context.Background(), []string{"manufacturer", "add", "--name", "Wild", "--idevid-anchor", anchor,
		"--ldevid-dns-template", "*.{{.SerialNumber}}.example.net"}, io.Discard, io.Discard, getenv); err == nil || !strings.Contains(err.Error(), "wildcards") {
		t.Fatalf("manufacturer add with a wildcard template: %v", err)
	}
	if err := run(context.Background(), []string{"pledge", "approve", "42"}, io.Discard, io.Discard, getenv); err == nil || !strings.Contains(err.Error(), "42") {
		t.Fatalf("approving an unknown pledge: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+admin+"/api/v1/pledges", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok.String()))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin API with a CLI token: %v %v", resp, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(st.DomainRoot)
	for _, proto := range []string{atls.ProtoOSCORE, atls.ProtoCOSE, atls.ProtoRecords} {
		c := &atls.Client{URL: "http://" + pub + atls.DefaultPath, Protocols: []string{proto},
			TLS: &tls.Config{RootCAs: roots, ServerName: "registrar.example.net", Certificates: []tls.Certificate{st.TLSCert}}}
		sess, err := c.Handshake(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if sess.Protocol() != proto {
			t.Fatalf("negotiated %s", sess.Protocol())
		}
	}
	checkCoAPListener(t, coapAddr, roots, st.TLSCert)
	if dsn == "" {
		// An online backup is a complete store: the manufacturers the
		// operator added are in it.
		backupFile := filepath.Join(t.TempDir(), "backup.db")
		if err := run(context.Background(), []string{"backup", "--out", backupFile}, io.Discard, io.Discard, getenv); err != nil {
			t.Fatalf("backup beside a running registrar: %v", err)
		}
		copyEnv := map[string]string{"LANDFALL_REGISTRAR_STATE_DIR": filepath.Dir(backupFile)}
		os.Rename(backupFile, filepath.Join(filepath.Dir(backupFile), embeddedFile))
		var list bytes.Buffer
		if err := run(context.Background(), []string{"manufacturer", "list"}, &list, io.Discard, func(k string) string { return copyEnv[k] }); err != nil ||
			!strings.Contains(list.String(), `"name": "Acme"`) {
			t.Fatalf("the backup lacks the manufacturers: %v %s", err, list.String())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	// Stopped, the schema goes back one version and up again.
	getenv = func(k string) string { return env[k] }
	for _, step := range []struct{ verb, want string }{{"version", "version 5"}, {"down", "version 4"}, {"up", "version 5"}} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"migrate", step.verb}, &out, io.Discard, getenv); err != nil || !strings.Contains(out.String(), step.want) {
			t.Fatalf("migrate %s: %v %q, want %q", step.verb, err, out.String(), step.want)
		}
	}
}

// waitReady polls readiness until the replica answers (bounded, no sleeps
// beyond the poll interval) or serve fails.
func waitReady(t *testing.T, url string, done <-chan error) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v", err)
		case <-tick.C:
		}
		resp, err := http.Get(url)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			return string(b)
		}
	}
	t.Fatal("replica never became ready")
	return ""
}

// checkStateChains: the registrar and RA certificates chain to the domain
// root, the RA certificate carries id-kp-cmcRA, the keys are long enough.
func checkStateChains(t *testing.T, st *registrar.State) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(st.DomainRoot)
	for name, pair := range map[string]tls.Certificate{"ra": st.TLSCert} {
		leaf, _ := x509.ParseCertificate(pair.Certificate[0])
		inter := x509.NewCertPool()
		for _, der := range pair.Certificate[1:] {
			c, _ := x509.ParseCertificate(der)
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s certificate does not chain to the domain root: %v", name, err)
		}
		if name == "ra" {
			found := false
			for _, o := range leaf.UnknownExtKeyUsage {
				found = found || o.Equal(registrar.OIDCmcRA)
			}
			if !found {
				t.Error("RA certificate lacks id-kp-cmcRA")
			}
		}
	}
	if len(st.SessionKey) != 32 || len(st.ContextKey) != 32 {
		t.Errorf("keys of %d and %d bytes", len(st.SessionKey), len(st.ContextKey))
	}
}

// checkCoAPListener runs an ATLS handshake over CoAP on the replica's
// --coap-listen address and one OSCORE request natively over CoAP, which
// the registrar's EST-coaps resource answers under protection.
func checkCoAPListener(t *testing.T, addr string, roots *x509.CertPool, cert tls.Certificate) {
	t.Helper()
	c := &atls.CoAPClient{Addr: addr, Protocols: []string{atls.ProtoOSCORE},
		TLS: &tls.Config{RootCAs: roots, ServerName: "registrar.example.net", Certificates: []tls.Certificate{cert}}}
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatalf("CoAP handshake on --coap-listen: %v", err)
	}
	defer sess.Close(context.Background())
	tr, err := sess.Transport()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Get("coap://registrar.example.net/.well-known/est/crts")
	if err != nil {
		t.Fatalf("OSCORE over CoAP on --coap-listen: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pkcs7-mime;smime-type=certs-only" || len(body) == 0 {
		t.Fatalf("/.well-known/est/crts over OSCORE on CoAP: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
