package httpapi_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// snapshot digests every table of the MASA's schema, to show that a
// rejected request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	return testkit.Snapshot(e.t, e.store.DB(), "owners", "devices", "policies", "vouchers", "audit_events", "tokens")
}

type call struct {
	method, url, contentType, accept, token string
	body                                    []byte
	client                                  *http.Client
}

func (c call) do(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	client := c.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestBadInputChangesNothing sends every kind of bad input to both
// listeners: each gets its status, and the database is unchanged after it.
func TestBadInputChangesNothing(t *testing.T) {
	p := newTestPKI(t)
	cfg := p.config()
	cfg.maxBody = 16 << 10
	e := newEnv(t, cfg)
	ctx := context.Background()
	owned := newPledge(t, e, "SN-OWNED-1", "widget")
	ownedByB := newPledge(t, e, "SN-OWNED-B", "widget")
	unowned := newPledge(t, e, "SN-UNOWNED", "widget")
	disabled := newPledge(t, e, "SN-DISABLED", "widget")
	ownerA, err := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	ownerB, err := e.svc.CreateOwner(ctx, "b", p.b.ca.cert.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	for serial, o := range map[string]int64{"SN-OWNED-1": ownerA.ID, "SN-OWNED-B": ownerB.ID, "SN-DISABLED": ownerA.ID} {
		if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{serial}}, o, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.SetDeviceStatus(ctx, masa.Selection{SerialNumbers: []string{"SN-DISABLED"}}, masa.DeviceDisabled, "test"); err != nil {
		t.Fatal(err)
	}
	// A pledge whose IDevID the MASA never issued.
	otherMaker := newCA(t, "other maker")
	foreignIDevID := issue(t, &x509.Certificate{Subject: pkix.Name{SerialNumber: "SN-OWNED-1"}}, &otherMaker)

	raNoCmcRA := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "not a registrar"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &p.a.ca)
	raExpired := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "expired registrar"}, KeyUsage: x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}, NotBefore: testNow.Add(-48 * time.Hour), NotAfter: testNow.Add(-time.Hour)}, &p.a.ca)
	raFuture := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "future registrar"}, KeyUsage: x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}, NotBefore: testNow.Add(time.Hour), NotAfter: testNow.Add(48 * time.Hour)}, &p.a.ca)

	good := forDomain(owned, p.a, "nonce-1").build(t)
	tampered := bytes.Replace(good, []byte("nonce-1"), []byte("nonce-2"), 1)
	otherNonce := "nonce-other"
	withRA := func(ra keyPair) []byte {
		r := forDomain(owned, p.a, "n")
		r.registrar = ra
		return r.build(t)
	}

	factory := e.token(masa.RoleFactory)
	auditor := e.token(masa.RoleAuditor)
	sales := e.token(masa.RoleSales)

	voucherURL := e.device.URL + "/.well-known/brski/requestvoucher"
	auditURL := e.device.URL + "/.well-known/brski/requestauditlog"
	dev := func(body []byte) call {
		return call{method: "POST", url: voucherURL, contentType: "application/voucher-cms+json", body: body, client: e.client(nil)}
	}
	importCall := func(token, ct, body string) call {
		return call{method: "POST", url: e.admin.URL + "/admin/v1/devices/import", contentType: ct, token: token, body: []byte(body)}
	}

	cases := []struct {
		name   string
		call   call
		status int
		reason string // in the body
	}{
		{"malformed CMS", dev([]byte("this is not CMS")), 400, "malformed"},
		{"truncated CMS", dev(good[:len(good)/2]), 400, "malformed"},
		{"wrong media type", func() call { c := dev(good); c.contentType = "application/json"; return c }(), 415, "Content-Type"},
		{"missing media type", func() call { c := dev(good); c.contentType = ""; return c }(), 415, "Content-Type"},
		{"oversized body", dev(bytes.Repeat([]byte{0x30}, 17<<10)), 413, "larger than"},
		{"unsupported Accept", func() call { c := dev(good); c.accept = "application/json"; return c }(), 406, "returns only"},
		{"unsupported Accept on audit log", call{method: "POST", url: auditURL, contentType: "application/voucher-cms+json", accept: "application/voucher-cms+json", body: good, client: e.client(nil)}, 406, "returns only"},
		{"tampered content", dev(tampered), 403, "signature"},
		{"eContentType neither voucher nor data", dev(func() request {
			r := forDomain(owned, p.a, "n")
			r.contentType = asn1.ObjectIdentifier{1, 2, 3}
			return r
		}().build(t)), 415, "unsupported-content"},
		{"id-data eContentType is accepted, but nonceless is not", dev(func() request {
			r := forDomain(owned, p.a, "")
			r.contentType = voucher.OIDData
			return r
		}().build(t)), 403, "nonceless"},
		{"unknown device", dev(forDomain(owned, p.a, "n").withSerials("SN-NOBODY", "SN-NOBODY").build(t)), 403, "IDevID"},
		{"unknown device with its own IDevID", dev(forDomain(newUnregisteredPledge(t, p, "SN-NOBODY"), p.a, "n").build(t)), 404, masa.ReasonNoSuchDevice},
		{"device owned by someone else", dev(forDomain(ownedByB, p.a, "n").build(t)), 404, masa.ReasonNoSuchDevice},
		{"signer without id-kp-cmcRA", dev(withRA(raNoCmcRA)), 403, "id-kp-cmcRA"},
		{"expired signer", dev(withRA(raExpired)), 403, "expired"},
		{"not-yet-valid signer", dev(withRA(raFuture)), 403, "expired"},
		{"nonce mismatch", dev(func() request { r := forDomain(owned, p.a, "n1"); r.registrarNonce = &otherNonce; return r }().build(t)), 403, "nonce"},
		{"serial mismatch", dev(func() request { r := forDomain(owned, p.a, "n"); r.serial = "SN-DISABLED"; return r }().build(t)), 403, "serial-mismatch"},
		{"pledge serial differs from its IDevID", dev(func() request { r := forDomain(owned, p.a, "n"); r.pledgeSerial = "SN-DISABLED"; return r }().build(t)), 403, "serial-mismatch"},
		{"IDevID from another manufacturer", dev(forDomain(foreignIDevID, p.a, "n").build(t)), 403, "untrusted: prior-signed-voucher-request"},
		{"nonced request without prior-signed request", dev(func() request { r := forDomain(owned, p.a, "n"); r.noPrior = true; return r }().build(t)), 403, "prior-signed"},
		{"proximity cert is another registrar", dev(func() request { r := forDomain(owned, p.a, "n"); r.proximityCert = p.b.registrar.cert; return r }().build(t)), 403, "proximity-mismatch"},
		{"nonceless not allowed", dev(forDomain(owned, p.a, "").build(t)), 403, "nonceless"},
		{"nonceless request with a pledge request", dev(func() request {
			r := forDomain(owned, p.a, "n")
			r.registrarNonce = new(string)
			return r
		}().build(t)), 403, "nonce"},
		{"disabled device", dev(forDomain(disabled, p.a, "n").build(t)), 403, "disabled"},
		{"unowned device, no trust on first use", dev(forDomain(unowned, p.a, "n").build(t)), 202, "no owner"},
		{"audit log of a device owned by someone else", call{method: "POST", url: auditURL, contentType: "application/voucher-cms+json", body: forDomain(ownedByB, p.a, "n").build(t), client: e.client(nil)}, 404, masa.ReasonNoSuchDevice},
		{"wrong device path", call{method: "POST", url: e.device.URL + "/.well-known/brski/nothing", contentType: "application/voucher-cms+json", body: good, client: e.client(nil)}, 404, ""},

		{"admin: missing token", importCall("", "text/csv", "serial-number,product,idevid\nX1,p,\n"), 401, "bearer"},
		{"admin: unknown token", importCall("lfmasa_nope", "text/csv", "serial-number,product,idevid\nX1,p,\n"), 401, "invalid token"},
		{"admin: wrong-role token", importCall(auditor, "text/csv", "serial-number,product,idevid\nX1,p,\n"), 403, "role"},
		{"admin: CSV with a bad row", importCall(factory, "text/csv", "serial-number,product,idevid\nX1,p,\nX2 bad\u00e9,p,\nX3,p,\n"), 422, `"line":3`},
		{"admin: CSV with a duplicate", importCall(factory, "text/csv", "serial-number,product,idevid\nX1,p,\nX1,p,\n"), 422, "repeats line 2"},
		{"admin: CSV with a registered serial", importCall(factory, "text/csv", "serial-number,product,idevid\nX1,p,\nSN-OWNED-1,p,\n"), 422, "already registered"},
		{"admin: CSV with a bad IDevID", importCall(factory, "text/csv", "serial-number,product,idevid\nX1,p,AAAA\n"), 422, "not a certificate"},
		{"admin: CSV of an old schema", importCall(factory, "text/csv", "serial,product\nX1,p\n"), 422, "header"},
		{"admin: JSON with a bad row", importCall(factory, "application/json", "{\"version\": 1, \"devices\": [\n {\"serial-number\": \"X1\"},\n {\"serial-number\": \"\"}\n]}"), 422, `"line":3`},
		{"admin: JSON of an unknown version", importCall(factory, "application/json", `{"version": 2, "devices": []}`), 422, "version"},
		{"admin: import media type", importCall(factory, "application/xml", "<x/>"), 415, ""},
		{"admin: oversized JSON", call{method: "POST", url: e.admin.URL + "/admin/v1/owners", contentType: "application/json", token: sales, body: bytes.Repeat([]byte(" "), 2<<20)}, 413, ""},
		{"admin: assign to unknown device", call{method: "POST", url: e.admin.URL + "/admin/v1/ownership/assign", contentType: "application/json", token: sales,
			body: []byte(fmt.Sprintf(`{"owner_id": %d, "serial_numbers": ["SN-UNOWNED", "SN-NOBODY"]}`, ownerA.ID))}, 404, "nothing changed"},
		{"admin: assign by list and range at once", call{method: "POST", url: e.admin.URL + "/admin/v1/ownership/assign", contentType: "application/json", token: sales,
			body: []byte(fmt.Sprintf(`{"owner_id": %d, "serial_numbers": ["SN-UNOWNED"], "from": "A", "to": "B"}`, ownerA.ID))}, 422, "not both"},
		{"admin: assign an inverted range", call{method: "POST", url: e.admin.URL + "/admin/v1/ownership/assign", contentType: "application/json", token: sales,
			body: []byte(fmt.Sprintf(`{"owner_id": %d, "from": "Z", "to": "A"}`, ownerA.ID))}, 422, "after"},
		{"admin: assign to an unknown owner", call{method: "POST", url: e.admin.URL + "/admin/v1/ownership/assign", contentType: "application/json", token: sales,
			body: []byte(`{"owner_id": 999, "serial_numbers": ["SN-UNOWNED"]}`)}, 404, "unknown owner"},
		{"admin: revoke naming nothing", call{method: "POST", url: e.admin.URL + "/admin/v1/ownership/revoke", contentType: "application/json", token: sales,
			body: []byte(`{}`)}, 422, "name the devices"},
		{"admin: unknown JSON field", call{method: "POST", url: e.admin.URL + "/admin/v1/ownership/revoke", contentType: "application/json", token: sales,
			body: []byte(`{"serials": ["SN-UNOWNED"]}`)}, 400, "unknown field"},
		{"admin: owner that is not a CA", call{method: "POST", url: e.admin.URL + "/admin/v1/owners", contentType: "application/json", token: sales,
			body: mustJSON(map[string]any{"name": "x", "ca_cert": p.a.registrar.cert.Raw})}, 422, "not a CA"},
		{"admin: nonceless policy without lifetime", call{method: "PUT", url: e.admin.URL + "/admin/v1/policies/device/SN-OWNED-1", contentType: "application/json", token: sales,
			body: []byte(`{"nonceless_allowed": true, "max_lifetime_seconds": 0, "trust_on_first_use": false}`)}, 422, "max-lifetime"},
		{"admin: IDevID for a registered serial", call{method: "POST", url: e.admin.URL + "/admin/v1/idevids", contentType: "application/json", token: factory,
			body: mustJSON(map[string]any{"csr": csrFor(t, "SN-OWNED-1"), "serial_number": "SN-OWNED-1"})}, 409, "already registered"},
		{"admin: the old paging parameter", call{method: "GET", url: e.admin.URL + "/admin/v1/vouchers?after=1", token: auditor}, 400, `unknown query parameter \"after\"`},
		{"admin: a repeated query parameter", call{method: "GET", url: e.admin.URL + "/admin/v1/devices?status=owned&status=active", token: auditor}, 400, "more than once"},
		{"admin: a query parameter on a device", call{method: "GET", url: e.admin.URL + "/admin/v1/devices/SN-OWNED-1?policy=1", token: auditor}, 400, "policy"},
		{"admin: a forged cursor", call{method: "GET", url: e.admin.URL + "/admin/v1/events?cursor=AAAA", token: auditor}, 400, "cursor"},
		{"admin: a cursor of another list", call{method: "GET", url: e.admin.URL + "/admin/v1/events?cursor=WyJTTi0xIl0", token: auditor}, 400, "cursor"},
		{"admin: a JSON page too large", call{method: "GET", url: e.admin.URL + "/admin/v1/devices?limit=1001", token: auditor}, 400, "between 1 and 1000"},
		{"admin: data after the JSON object", call{method: "POST", url: e.admin.URL + "/admin/v1/ownership/revoke", contentType: "application/json", token: sales,
			body: []byte(`{"serial_numbers": ["SN-UNOWNED"]}{}`)}, 400, "data after"},
		{"admin: IDevID from a garbage CSR", call{method: "POST", url: e.admin.URL + "/admin/v1/idevids", contentType: "application/json", token: factory,
			body: []byte(`{"csr": "AAAA", "serial_number": "SN-NEW"}`)}, 400, "CSR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, body := tc.call.do(t)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(string(body), tc.reason) {
				t.Errorf("body %q does not say %q", body, tc.reason)
			}
			if tc.status == 202 && resp.Header.Get("Retry-After") == "" {
				t.Error("202 without Retry-After")
			}
			if strings.HasPrefix(tc.call.url, e.device.URL) && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("device error Content-Type %q", resp.Header.Get("Content-Type"))
			}
			if after := e.snapshot(); after != before {
				t.Errorf("database changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	// And the good request still works afterwards.
	resp, body := dev(good).do(t)
	if resp.StatusCode != 200 {
		t.Fatalf("good request: %d %s", resp.StatusCode, body)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (r request) withSerials(pledge, registrar string) request {
	r.pledgeSerial, r.serial = pledge, registrar
	return r
}

// newUnregisteredPledge issues an IDevID from the manufacturer's CA
// without registering the device.
func newUnregisteredPledge(t testing.TB, p *testPKI, serial string) keyPair {
	return issue(t, &x509.Certificate{Subject: pkix.Name{SerialNumber: serial}, KeyUsage: x509.KeyUsageDigitalSignature}, &p.manufacturer)
}
