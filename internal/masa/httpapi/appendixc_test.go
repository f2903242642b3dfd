package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/testkit"
)

// registerAppendixC registers the Appendix C device with its IDevID and
// gives it to the owner domain of ownerca_secp384r1.crt.
func registerAppendixC(t *testing.T, e *env) masa.Owner {
	t.Helper()
	ctx := context.Background()
	// No IDevID is recorded: idevid_00-D0-E5-F2-00-02.crt is a later
	// reissue (notBefore 2021-04-27), not the certificate that signed the
	// pledge request inside the parboiled request (2021-04-13).
	if err := e.store.RegisterDevice(ctx, masa.Device{SerialNumber: appendixCSerial, Product: "fountain",
		Status: masa.DeviceActive, CreatedAt: e.now, UpdatedAt: e.now}, masa.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	owner, err := e.svc.CreateOwner(ctx, "sandelman", readFile(t, "ownerca_secp384r1.crt"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{appendixCSerial}}, owner.ID, "test"); err != nil {
		t.Fatal(err)
	}
	return owner
}

func postCMS(t testing.TB, c *http.Client, url string, body []byte, accept string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/voucher-cms+json")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return testkit.Do(t, c, req)
}

// TestAppendixCBeforeRegistration: the same request is refused with the
// one answer for a device the registrar may not know of (404) until the
// MASA knows the device and the registrar's domain; then the decision is
// pending (202) until the sale, and a sale to another domain takes the
// device back out of the registrar's sight (404 again).
func TestAppendixCBeforeRegistration(t *testing.T) {
	e := newEnv(t, appendixCConfig(t))
	ctx := context.Background()
	body := readB64(t, "parboiled_vr_00-D0-E5-F2-00-02.b64")
	url := e.device.URL + "/.well-known/brski/requestvoucher"
	noSuchDevice := func(what string) {
		t.Helper()
		resp, b := postCMS(t, e.client(nil), url, body, "")
		if resp.StatusCode != 404 || string(b) != masa.ReasonNoSuchDevice+"\n" || resp.Header.Get("Retry-After") != "" {
			t.Fatalf("%s: %d %v %s", what, resp.StatusCode, resp.Header, b)
		}
	}
	noSuchDevice("unknown device")
	if err := e.store.RegisterDevice(ctx, masa.Device{SerialNumber: appendixCSerial, Status: masa.DeviceActive, CreatedAt: e.now, UpdatedAt: e.now}, masa.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	noSuchDevice("no owner yet, the registrar's domain unregistered")
	owner, err := e.svc.CreateOwner(ctx, "sandelman", readFile(t, "ownerca_secp384r1.crt"), "t")
	if err != nil {
		t.Fatal(err)
	}
	if resp, b := postCMS(t, e.client(nil), url, body, ""); resp.StatusCode != 202 || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("no owner yet: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	other := newDomain(t, "other")
	o, err := e.svc.CreateOwner(ctx, "other", other.ca.cert.Raw, "t")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{appendixCSerial}}, o.ID, "t")
	noSuchDevice("owned by another domain")
	// At today's date the registrar's certificate has expired.
	e.now = time.Now()
	e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{appendixCSerial}}, owner.ID, "t")
	if resp, b := postCMS(t, e.client(nil), url, body, ""); resp.StatusCode != 403 || !bytes.Contains(b, []byte("expired")) {
		t.Fatalf("today: %d %s", resp.StatusCode, b)
	}
}

// TestAppendixCRegistrarRequest sends the RFC 8995 Appendix C parboiled
// registrar voucher-request, at its fixed time, to a MASA that knows the
// device and its owner, and checks the voucher with OpenSSL.
func TestAppendixCRegistrarRequest(t *testing.T) {
	e := newEnv(t, appendixCConfig(t))
	registerAppendixC(t, e)
	body := readB64(t, "parboiled_vr_00-D0-E5-F2-00-02.b64")

	resp, voucherCMS := postCMS(t, e.client(nil), e.device.URL+"/.well-known/brski/requestvoucher", body, "application/voucher-cms+json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, voucherCMS)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/voucher-cms+json" {
		t.Errorf("Content-Type %q", ct)
	}

	// OpenSSL, an independent CMS implementation, verifies the voucher
	// against the manufacturer's CA at the Appendix C time.
	dir := t.TempDir()
	vf := filepath.Join(dir, "voucher.der")
	if err := os.WriteFile(vf, voucherCMS, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "cms", "-verify", "-inform", "DER", "-in", vf,
		"-CAfile", filepath.Join(appendixC, "vendor.crt"), "-attime", "1619827200").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
	content := bytes.TrimSuffix(out, []byte("Verification successful\n"))
	content = bytes.TrimSpace(bytes.ReplaceAll(content, []byte("CMS Verification successful"), nil))
	var v struct {
		V struct {
			Assertion        string `json:"assertion"`
			SerialNumber     string `json:"serial-number"`
			Nonce            string `json:"nonce"`
			PinnedDomainCert []byte `json:"pinned-domain-cert"`
			CreatedOn        string `json:"created-on"`
			ExpiresOn        string `json:"expires-on"`
		} `json:"ietf-voucher:voucher"`
	}
	if err := json.Unmarshal(content, &v); err != nil {
		t.Fatalf("voucher JSON from openssl: %v\n%s", err, out)
	}
	if v.V.SerialNumber != appendixCSerial || v.V.Nonce != "-_XE9zK9q8Ll1qylMtLKeg" || v.V.Assertion != "proximity" ||
		!createdAt(v.V.CreatedOn).Equal(appendixCTime) || v.V.ExpiresOn != "" {
		t.Errorf("voucher = %+v", v.V)
	}
	if !bytes.Equal(v.V.PinnedDomainCert, readCert(t, "ownerca_secp384r1.crt").Raw) {
		t.Error("pinned-domain-cert is not the owner's domain CA certificate")
	}
	// The content type is id-ct-animaJSONVoucher.
	out, err = exec.Command("openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", vf).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("(1.2.840.113549.1.9.16.1.40)")) {
		t.Errorf("openssl cms -print: %v\n%s", err, out)
	}

	// A byte-identical request gets the same voucher, and one record.
	_, again := postCMS(t, e.client(nil), e.device.URL+"/.well-known/brski/requestvoucher", body, "")
	if !bytes.Equal(again, voucherCMS) {
		t.Error("repeated request got a different voucher")
	}
	vs, err := e.store.ListVouchers(context.Background(), masa.VoucherFilter{Limit: 10})
	if err != nil || len(vs) != 1 || vs[0].Assertion != "proximity" || *vs[0].Nonce != "-_XE9zK9q8Ll1qylMtLKeg" {
		t.Fatalf("vouchers recorded = %+v, %v", vs, err)
	}

	// The owner's registrar may read the device's audit log (RFC 8995 5.8.1).
	resp, logBody := postCMS(t, e.client(nil), e.device.URL+"/.well-known/brski/requestauditlog", body, "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("audit log status %d: %s", resp.StatusCode, logBody)
	}
	var log masa.AuditLog
	if err := json.Unmarshal(logBody, &log); err != nil {
		t.Fatal(err)
	}
	owner := readCert(t, "ownerca_secp384r1.crt")
	if log.Version != 1 || len(log.Events) != 1 || log.Events[0].DomainID != masa.DomainID(owner) ||
		log.Events[0].Nonce == nil || *log.Events[0].Nonce != "-_XE9zK9q8Ll1qylMtLKeg" || log.Events[0].Assertion != "proximity" {
		t.Errorf("audit log = %s", logBody)
	}
}

func createdAt(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
