package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestDatabaseOutage stops PostgreSQL under a running `masa serve`: a
// registrar's well-formed voucher-request and an authenticated admin call
// get 503 with Retry-After (issue 12 item 2; before, 500), with the cause
// in the log; after the restart the same process issues the voucher and
// answers the admin call.
func TestDatabaseOutage(t *testing.T) {
	cluster := testpg.SharedCluster(t)
	ctx := context.Background()
	dsn := testpg.Database(t)
	keyDir := filepath.Join(t.TempDir(), "keys")
	env := map[string]string{"LANDFALL_MASA_DATABASE_URL": dsn, "LANDFALL_MASA_KEY_DIR": keyDir}
	if out, errs, code := runCmd(t, env, "init"); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	if out, errs, code := runCmd(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, errs)
	}
	secret, errs, code := runCmd(t, env, "token", "create", "--role", "auditor", "--name", "probe")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errs)
	}
	secret = strings.TrimSpace(secret)
	body := registrarRequest(t, env, dsn, "FAULT-1")

	listen, admin := testkit.FreeAddr(t), testkit.FreeAddr(t)
	serveCtx, cancel := context.WithCancel(ctx)
	done := make(chan int)
	var log testkit.SyncBuffer
	go func() {
		done <- run(serveCtx, []string{"--listen", listen, "--admin-listen", admin}, io.Discard, &log, func(k string) string { return env[k] })
	}()
	stopped, exit := false, 0
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			exit = <-done
		}
	}
	defer stop()
	waitFor(t, "http://"+admin+"/healthz")
	keys, err := masa.LoadKeys(keyDir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(keys.TLS.Leaf)
	device := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	requestVoucher := func() *http.Response {
		resp, err := device.Post("https://"+listen+"/.well-known/brski/requestvoucher", "application/voucher-cms+json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	listDevices := func() *http.Response {
		req, _ := http.NewRequest("GET", "http://"+admin+"/admin/v1/devices", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	restart := testkit.StopPostgreSQL(t, cluster)
	for name, call := range map[string]func() *http.Response{"requestvoucher": requestVoucher, "admin devices": listDevices} {
		resp := call()
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
			t.Errorf("%s with the database down: %d, Retry-After %q: %s", name, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	restart()
	resp := requestVoucher()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/voucher-cms+json" {
		t.Fatalf("requestvoucher after the restart: %d %s", resp.StatusCode, b)
	}
	if _, err := voucher.ParseSigned(b); err != nil {
		t.Errorf("voucher after the restart: %v", err)
	}
	if resp := listDevices(); resp.StatusCode != http.StatusOK {
		t.Errorf("admin devices after the restart: %d", resp.StatusCode)
	}
	stop()
	if exit != 0 {
		t.Errorf("serve exited %d", exit)
	}
	// The cause of each 503 is logged: the store operation that failed.
	for _, cause := range []string{"sqlstore: device record", "sqlstore: token by secret"} {
		if !strings.Contains(log.String(), cause) {
			t.Errorf("no logged cause %q in:\n%s", cause, log.String())
		}
	}
}

// registrarRequest registers device serial (IDevID from `masa idevid
// issue`) as sold to a fresh domain, and returns a registrar
// voucher-request for it (RFC 8995 5.5) signed by that domain's registrar.
func registrarRequest(t *testing.T, env map[string]string, dsn, serial string) []byte {
	t.Helper()
	dir := t.TempDir()
	devKey := testkit.Key(t)
	csr := testkit.CSR(t, devKey, pkix.Name{SerialNumber: serial})
	csrFile := filepath.Join(dir, "dev.csr")
	os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), 0o600)
	out, errs, code := runCmd(t, env, "idevid", "issue", "--csr", csrFile)
	if code != 0 {
		t.Fatalf("idevid issue: %d %s", code, errs)
	}
	blk, _ := pem.Decode([]byte(out))
	idevid, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	domain, domainKey := newCert(t, testkit.CATemplate("example.net CA"), nil, nil)
	ra, raKey := newCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "registrar.example.net"},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}}, domain, domainKey)

	// The sale, straight into the store: the admin API is not under test.
	store, err := sqlstore.Open(context.Background(), dsn, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sum := sha256.Sum256(domain.Raw)
	ev := masa.AuditEvent{At: time.Now(), Actor: "test", Action: "owner.create"}
	owner, err := store.CreateOwner(context.Background(), masa.Owner{Name: "example.net", CACert: domain.Raw, CASHA256: sum[:],
		DomainID: masa.DomainID(domain), CreatedAt: time.Now()}, ev)
	if err != nil {
		t.Fatal(err)
	}
	ev.Action = "ownership.assign"
	if _, err := store.AssignOwner(context.Background(), masa.Selection{SerialNumbers: []string{serial}}, owner.ID, ev); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC().Truncate(time.Second)
	pr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: serial, Nonce: "fault-nonce", RegistrarCert: ra, CreatedOn: now})
	if err != nil {
		t.Fatal(err)
	}
	prCMS, err := (&voucher.Signer{Cert: idevid, Key: devKey}).SignVoucherRequest(pr)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := voucher.NewRegistrarRequest(prCMS, pr, idevid, now)
	if err != nil {
		t.Fatal(err)
	}
	body, err := (&voucher.Signer{Cert: ra, Key: raKey, Chain: []*x509.Certificate{domain}}).SignVoucherRequest(rr)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func newCert(t *testing.T, tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	return testkit.Issue(t, tmpl, parent, parentKey)
}
