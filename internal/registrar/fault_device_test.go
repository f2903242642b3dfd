package registrar_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// logCapture is a slog handler keeping every record at Warn and above, so
// that the fault test can find the cause logged for an answer.
type logCapture struct {
	mu      *sync.Mutex
	records *[]map[string]string
	attrs   []slog.Attr
}

func newLogCapture() *logCapture {
	return &logCapture{mu: &sync.Mutex{}, records: &[]map[string]string{}}
}

func (c *logCapture) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message}
	for _, a := range c.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	c.mu.Lock()
	*c.records = append(*c.records, m)
	c.mu.Unlock()
	return nil
}

func (c *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCapture{mu: c.mu, records: c.records, attrs: append(append([]slog.Attr{}, c.attrs...), attrs...)}
}

func (c *logCapture) WithGroup(string) slog.Handler { return c }

// find returns the first record whose attributes include every pair of want.
func (c *logCapture) find(want map[string]string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
next:
	for _, r := range *c.records {
		for k, v := range want {
			if !strings.Contains(r[k], v) {
				continue next
			}
		}
		return r
	}
	return nil
}

// directClient speaks to a replica's direct mutual-TLS listener as the
// pledge idevid; like a pledge before its voucher, it does not verify the
// registrar (RFC 8995 5.1: the provisional TLS connection).
func directClient(idevid tls.Certificate) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
	}}}
}

// deviceRequestsDuringOutage posts a well-formed requestvoucher (RFC 8995
// 5.2), voucher_status (5.7) and simpleenroll (RFC 7030 4.2.1) to the
// direct listener while PostgreSQL is stopped: each must be 503 with a
// Retry-After, and the cause of each must be logged with its request id.
func deviceRequestsDuringOutage(t *testing.T, e *env, logs *logCapture, serial string, idevid tls.Certificate) {
	t.Helper()
	hc := directClient(idevid)
	registrarCert, err := x509.ParseCertificate(e.State.TLSCert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	signer := &voucher.Signer{Cert: idevid.Leaf, Key: idevid.PrivateKey.(crypto.Signer)}
	nonce, err := voucher.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: serial, Nonce: nonce, RegistrarCert: registrarCert})
	if err != nil {
		t.Fatal(err)
	}
	pvr, err := signer.SignVoucherRequest(vr)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: serial}}, idevid.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		name, path, contentType string
		body                    []byte
		logged                  string
	}{
		{"requestvoucher", "/.well-known/brski/requestvoucher", registrar.MediaVoucherCMS, pvr, "device request failed"},
		{"voucher_status", "/.well-known/brski/voucher_status", "application/json", []byte(`{"version":1,"status":true}`), "device request failed"},
		{"simpleenroll", "/.well-known/est/simpleenroll", "application/pkcs10", []byte(base64.StdEncoding.EncodeToString(csrDER)), "est request failed"},
	}
	for i, rq := range requests {
		id := fmt.Sprintf("fault-%s-%d", rq.name, i)
		req, err := http.NewRequest(http.MethodPost, e.Direct[0].URL+rq.path, bytes.NewReader(rq.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", rq.contentType)
		req.Header.Set("X-Request-Id", id)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", rq.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
			t.Errorf("%s with the database down: %d Retry-After %q %q, want 503 Retry-After 5", rq.name, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if strings.Contains(string(body), "dial") || strings.Contains(string(body), "connect") {
			t.Errorf("%s: the answer reveals the cause: %q", rq.name, body)
		}
		if logs.find(map[string]string{"msg": rq.logged, "request_id": id, "err": "database unavailable"}) == nil {
			t.Errorf("%s: no %q logged with request id %s and the store's cause", rq.name, rq.logged, id)
		}
	}
}
