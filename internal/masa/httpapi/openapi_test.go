package httpapi_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/api"
	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/httpapi"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/pkg/voucher"
)

const specPath = "api/openapi.yaml"

func init() {
	openapi3filter.RegisterBodyDecoder(httpapi.MediaVoucherCMS, openapi3filter.FileBodyDecoder)
}

// TestOpenAPIRoutesInSpec fails when a route the handlers serve is missing
// from api/openapi.yaml, or the spec has a MASA operation no handler serves.
func TestOpenAPIRoutesInSpec(t *testing.T) {
	doc, _ := api.Contract(t)
	served := map[string]bool{}
	for _, h := range []http.Handler{httpapi.DeviceHandler(nil, httpapi.DeviceOptions{}), httpapi.AdminHandler(nil, httpapi.AdminOptions{Metrics: httpapi.NewMetrics()})} {
		err := chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			route = strings.TrimSuffix(route, "/")
			served[method+" "+route] = true
			item := doc.Paths.Find(route)
			if item == nil || item.GetOperation(method) == nil {
				t.Errorf("%s %s is served but missing from api/openapi.yaml", method, route)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range masaOperations(doc) {
		if !served[op] {
			t.Errorf("api/openapi.yaml has %s but no MASA handler serves it", op)
		}
	}
}

func masaOperations(doc *openapi3.T) []string { return api.Operations(doc, "masa") }

// problem is an RFC 9457 problem document as the MASA sends it.
type problem struct {
	Type, Title string
	Status      int
	Detail      string
	Rows        []struct {
		Line         int    `json:"line"`
		SerialNumber string `json:"serial_number"`
		Reason       string `json:"reason"`
	} `json:"rows"`
}

// TestOpenAPIConformance drives every MASA endpoint with real requests
// through both listeners and validates each request and response against
// api/openapi.yaml with kin-openapi. It also walks the happy paths:
// IDevID issuance, import, ownership by list and range, policy, nonced,
// nonceless and trust-on-first-use vouchers, the audit log, exports.
func TestOpenAPIConformance(t *testing.T) {
	doc, sc := api.Contract(t)
	p := newTestPKI(t)
	cfg := p.config()
	cfg.wrap = sc.Wrap
	e := newEnv(t, cfg)
	admin := e.token(masa.RoleAdmin)
	factory := e.token(masa.RoleFactory)
	sales := e.token(masa.RoleSales)
	auditor := e.token(masa.RoleAuditor)

	do := func(method, path, token, ct string, body []byte, want int) []byte {
		t.Helper()
		resp, b := call{method: method, url: e.admin.URL + path, contentType: ct, token: token, body: body}.do(t)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		return b
	}
	do("GET", "/healthz", "", "", nil, 200)
	do("GET", "/readyz", "", "", nil, 200)

	// Factory: IDevIDs for three devices over HTTP.
	pledges := map[string]keyPair{}
	for _, serial := range []string{"OA-0001", "OA-0002", "OA-0003", "OA-0009"} {
		key := testkit.Key(t)
		csr := testkit.CSR(t, key, pkix.Name{SerialNumber: serial})
		b := do("POST", "/admin/v1/idevids", factory, "application/json",
			mustJSON(map[string]any{"csr": base64.StdEncoding.EncodeToString(csr), "product": "widget"}), 201)
		var ir struct{ Certificate string }
		json.Unmarshal(b, &ir)
		blk, _ := pem.Decode([]byte(ir.Certificate))
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		pledges[serial] = keyPair{cert, key}
	}
	// Imports in both formats; a bad one lists its rows.
	do("POST", "/admin/v1/devices/import", factory, "application/json",
		[]byte(`{"version": 1, "devices": [{"serial-number": "OB-0001", "product": "gadget"}, {"serial-number": "OB-0002"}]}`), 200)
	do("POST", "/admin/v1/devices/import", factory, "text/csv", []byte("serial-number,product,idevid\nOC-0001,gadget,\n"), 200)
	bad := do("POST", "/admin/v1/devices/import", factory, "text/csv", []byte("serial-number,product,idevid\nOC-0002,gadget,\n,gadget,\nOC-0001,gadget,\n"), 422)
	var prob problem
	json.Unmarshal(bad, &prob)
	if len(prob.Rows) != 2 || prob.Rows[0].Line != 3 || prob.Rows[1].Line != 4 {
		t.Errorf("import problem rows = %+v", prob.Rows)
	}

	// Sales: owners, ownership by list and by range.
	var ownerA, ownerB httpapi.Owner
	json.Unmarshal(do("POST", "/admin/v1/owners", sales, "application/json",
		mustJSON(map[string]any{"name": "a", "ca_cert": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.a.ca.cert.Raw}))}), 201), &ownerA)
	json.Unmarshal(do("POST", "/admin/v1/owners", sales, "application/json",
		mustJSON(map[string]any{"name": "b", "ca_cert": base64.StdEncoding.EncodeToString(p.b.ca.cert.Raw)}), 201), &ownerB)
	do("GET", "/admin/v1/owners", auditor, "", nil, 200)
	var changed struct{ Changed []string }
	json.Unmarshal(do("POST", "/admin/v1/ownership/assign", sales, "application/json",
		mustJSON(map[string]any{"owner_id": ownerA.ID, "from": "OA-0001", "to": "OA-0002"}), 200), &changed)
	if strings.Join(changed.Changed, ",") != "OA-0001,OA-0002" {
		t.Errorf("range assign changed %v", changed.Changed)
	}
	do("POST", "/admin/v1/ownership/assign", sales, "application/json",
		mustJSON(map[string]any{"ca_cert": base64.StdEncoding.EncodeToString(p.b.ca.cert.Raw), "serial_numbers": []string{"OB-0001"}}), 200)
	do("POST", "/admin/v1/ownership/assign", sales, "application/json",
		mustJSON(map[string]any{"owner_id": ownerB.ID, "ca_cert": "x", "serial_numbers": []string{"OB-0001"}}), 422)

	// Policy: nonceless for OA-0002, trust on first use for product widget.
	do("PUT", "/admin/v1/policies/device/OA-0002", sales, "application/json",
		[]byte(`{"nonceless_allowed": true, "max_lifetime_seconds": 86400, "trust_on_first_use": false}`), 200)
	do("PUT", "/admin/v1/policies/product/gadget", sales, "application/json", []byte(`{"trust_on_first_use": true}`), 200)
	do("DELETE", "/admin/v1/policies/product/gadget", sales, "", nil, 204)
	do("PUT", "/admin/v1/policies/product/widget", sales, "application/json", []byte(`{"trust_on_first_use": true}`), 200)
	var detail httpapi.DeviceDetail
	json.Unmarshal(do("GET", "/admin/v1/devices/OA-0002", auditor, "", nil, 200), &detail)
	if !detail.Policy.NoncelessAllowed || detail.Policy.MaxLifetimeSeconds != 86400 || detail.OwnerID != ownerA.ID {
		t.Errorf("device detail = %+v", detail)
	}

	// Registrars.
	voucherURL := e.device.URL + "/.well-known/brski/requestvoucher"
	post := func(body []byte, c *http.Client) (*http.Response, []byte) {
		if c == nil {
			c = e.client(nil)
		}
		return postCMS(t, c, voucherURL, body, "")
	}
	resp, nonced := post(forDomain(pledges["OA-0001"], p.a, "n-1").build(t), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("nonced: %d %s", resp.StatusCode, nonced)
	}
	// The pledge's side of pkg/voucher accepts it and pins domain a's CA.
	accepted, err := voucher.CheckVoucher(nonced, voucher.VoucherCheck{ManufacturerRoots: testkit.CertPool(p.manufacturer.cert),
		SerialNumber: "OA-0001", Nonce: "n-1", At: testNow})
	if err != nil || !accepted.PinnedDomainCert.Equal(p.a.ca.cert) || accepted.Voucher.Assertion != voucher.AssertionProximity {
		t.Fatalf("pledge check of the voucher: %v", err)
	}
	// Nonceless: allowed by OA-0002's policy, only over TLS client auth of domain a.
	nonceless := forDomain(pledges["OA-0002"], p.a, "").build(t)
	if resp, b := post(nonceless, nil); resp.StatusCode != 403 {
		t.Fatalf("nonceless without client certificate: %d %s", resp.StatusCode, b)
	}
	if resp, b := post(nonceless, e.client(p.b.registrar.tls())); resp.StatusCode != 403 {
		t.Fatalf("nonceless with another domain's client certificate: %d %s", resp.StatusCode, b)
	}
	resp, vb := post(nonceless, e.client(p.a.registrar.tls()))
	if resp.StatusCode != 200 {
		t.Fatalf("nonceless: %d %s", resp.StatusCode, vb)
	}
	// Trust on first use needs the pledge, not only its registrar: without
	// the pledge's request the device is not shown to exist.
	if resp, b := post(forDomain(pledges["OA-0003"], p.b, "").build(t), e.client(p.b.registrar.tls())); resp.StatusCode != 404 ||
		string(b) != masa.ReasonNoSuchDevice+"\n" {
		t.Fatalf("trust on first use without the pledge: %d %s", resp.StatusCode, b)
	}
	// Trust on first use: OA-0003 has no owner, product widget allows TOFU.
	if resp, b := post(forDomain(pledges["OA-0003"], p.b, "n-3").build(t), nil); resp.StatusCode != 200 {
		t.Fatalf("trust on first use: %d %s", resp.StatusCode, b)
	}
	if resp, b := post(forDomain(pledges["OA-0003"], p.a, "n-3a").build(t), nil); resp.StatusCode != 404 {
		t.Fatalf("second domain after first use: %d %s", resp.StatusCode, b)
	}
	// The audit log, for domain a's registrar.
	resp, lb := postCMS(t, e.client(nil), e.device.URL+"/.well-known/brski/requestauditlog",
		forDomain(pledges["OA-0001"], p.a, "n-x").build(t), "application/json")
	if resp.StatusCode != 200 || !strings.Contains(string(lb), `"nonce":"n-1"`) {
		t.Fatalf("audit log: %d %s", resp.StatusCode, lb)
	}
	// Errors on the device side are documented too.
	post([]byte("junk"), nil)
	resp, _ = postCMS(t, e.client(nil), voucherURL, []byte("x"), "text/html")
	if resp.StatusCode != 406 {
		t.Errorf("406 expected, got %d", resp.StatusCode)
	}

	// Operators: status, revoke, queries and exports.
	do("POST", "/admin/v1/devices/status", sales, "application/json", []byte(`{"serial_numbers": ["OB-0002"], "status": "disabled"}`), 200)
	do("POST", "/admin/v1/ownership/revoke", sales, "application/json", []byte(`{"serial_numbers": ["OB-0001"]}`), 200)
	var vp httpapi.Page[httpapi.VoucherRecord]
	json.Unmarshal(do("GET", "/admin/v1/vouchers?limit=2", auditor, "", nil, 200), &vp)
	if len(vp.Items) != 2 || vp.Next == "" || vp.Items[1].ExpiresOn == nil || vp.Items[1].Nonce != nil {
		t.Errorf("vouchers page = %+v", vp)
	}
	json.Unmarshal(do("GET", "/admin/v1/vouchers?cursor="+vp.Next, auditor, "", nil, 200), &vp)
	if len(vp.Items) != 1 || vp.Items[0].Assertion != "proximity" || vp.Items[0].SerialNumber != "OA-0003" {
		t.Errorf("second vouchers page = %+v", vp)
	}
	csvOut := do("GET", "/admin/v1/vouchers?format=csv", admin, "", nil, 200)
	if lines := strings.Count(string(csvOut), "\n"); lines != 4 {
		t.Errorf("voucher CSV has %d lines:\n%s", lines, csvOut)
	}
	var dp httpapi.Page[httpapi.Device]
	json.Unmarshal(do("GET", "/admin/v1/devices?status=owned", auditor, "", nil, 200), &dp)
	if len(dp.Items) != 3 { // OA-0001, OA-0002, OA-0003 (claimed)
		t.Errorf("owned devices = %+v", dp.Items)
	}
	// Domain a owns OA-0001 and OA-0002: two pages of one, the last
	// without a cursor.
	var serials []string
	for path := fmt.Sprintf("/admin/v1/devices?owner_id=%d&limit=1", ownerA.ID); ; {
		dp = httpapi.Page[httpapi.Device]{}
		json.Unmarshal(do("GET", path, auditor, "", nil, 200), &dp)
		for _, d := range dp.Items {
			serials = append(serials, d.SerialNumber)
		}
		if dp.Next == "" || len(serials) > 3 {
			break
		}
		path = fmt.Sprintf("/admin/v1/devices?owner_id=%d&limit=1&cursor=%s", ownerA.ID, dp.Next)
	}
	if strings.Join(serials, ",") != "OA-0001,OA-0002" {
		t.Errorf("paged devices = %v", serials)
	}
	do("GET", "/admin/v1/devices?owner-id=1", auditor, "", nil, 400) // the old spelling names an unknown parameter
	do("GET", "/admin/v1/devices?format=csv&product=gadget", factory, "", nil, 200)
	req, _ := http.NewRequest("GET", e.admin.URL+"/admin/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+auditor)
	req.Header.Set("Accept", "text/csv")
	r2, err := http.DefaultClient.Do(req)
	if err != nil || r2.StatusCode != 200 || !strings.HasPrefix(r2.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("events CSV: %v %v", err, r2)
	}
	r2.Body.Close()
	var ep httpapi.Page[httpapi.AuditEvent]
	json.Unmarshal(do("GET", "/admin/v1/events?serial_number=OA-0003", auditor, "", nil, 200), &ep)
	if len(ep.Items) != 2 || ep.Items[1].Action != "ownership.claim" {
		t.Errorf("OA-0003 events = %+v", ep.Items)
	}
	if m := do("GET", "/metrics", "", "", nil, 200); !strings.Contains(string(m), `masa_device_requests_total{code="200",endpoint="requestvoucher"} 3`) {
		t.Errorf("metrics:\n%s", m)
	}
	// Auth failures are documented.
	do("GET", "/admin/v1/events", "", "", nil, 401)
	do("GET", "/admin/v1/events", factory, "", nil, 403)
	do("GET", "/admin/v1/devices/NOPE", auditor, "", nil, 404)

	for _, op := range masaOperations(doc) {
		if !sc.Seen(op) {
			t.Errorf("%s was never exercised", op)
		}
	}
}
