package registrar_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// The constrained resources one request at a time, as a constrained pledge
// writes them: inner CoAP requests protected with OSCORE, through the load
// balancer to either replica (the Content-Type and Accept below become
// Content-Format and Accept options, profile 5.2). Every refusal is
// checked in the database afterwards.

// Payloads from the constrained-voucher draft's examples ("cBRSKI Message
// Examples"): an enrollstatus of success, one of failure, and the
// voucher_status with a reason-context keyed by 0.
var (
	draftEnrollStatusOK     = mustHex("A26776657273696F6E0166737461747573F5")
	draftEnrollStatusFailed = mustHex("A36776657273696F6E0166737461747573F466726561736F6E782A3C496E666F726D61746976652068756D616E207265616461626C65206572726F72206D6573736167653E")
	draftVoucherStatus      = mustHex("A46776657273696F6E0166737461747573F466726561736F6E7828496E666F726D61746976652068756D616E2D7265616461626C65206572726F72206D6573736167656E726561736F6E2D636F6E74657874A100764164646974696F6E616C20696E666F726D6174696F6E")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// device is one pledge with an OSCORE session to the deployment.
type device struct {
	t         *testing.T
	e         *env
	serial    string
	idevid    tls.Certificate
	client    *http.Client
	registrar *x509.Certificate // the certificate the session's replica presented
}

func (e *env) oscoreDevice(t *testing.T, serial string) *device {
	t.Helper()
	idevid := e.newDevice(serial, true)
	d := &device{t: t, e: e, serial: serial, idevid: idevid}
	d.client, d.registrar = oscoreSession(t, e, idevid)
	return d
}

// oscoreSession runs an atls-oscore handshake through the load balancer as
// the holder of cert and returns the inner client.
func oscoreSession(t *testing.T, e *env, cert tls.Certificate) (*http.Client, *x509.Certificate) {
	t.Helper()
	c := &atls.Client{URL: e.LB.URL + atls.DefaultPath, HTTP: e.LB.Client(), Provisional: true,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Protocols: []string{atls.ProtoOSCORE}}
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(context.Background()) })
	tr, err := sess.Transport()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: tr}, sess.ConnectionState().PeerCertificates[0]
}

// answer is an inner response.
type answer struct {
	status      int
	contentType string
	body        []byte
}

func send(t *testing.T, hc *http.Client, method, url, contentType, accept string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), b}
}

func (d *device) send(method, path, contentType, accept string, body []byte) answer {
	d.t.Helper()
	return send(d.t, d.client, method, "https://registrar"+path, contentType, accept, body)
}

// voucherRequest is the pledge's COSE voucher-request pinning the
// session's registrar certificate.
func (d *device) voucherRequest() []byte {
	d.t.Helper()
	nonce, _ := voucher.NewNonce()
	vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: d.serial, Nonce: nonce, RegistrarCert: d.registrar})
	if err != nil {
		d.t.Fatal(err)
	}
	s := &voucher.Signer{Cert: d.idevid.Leaf, Key: d.idevid.PrivateKey.(crypto.Signer), COSE: voucher.COSEOptions{Certs: voucher.COSENoCerts}}
	b, err := s.SignVoucherRequestAs(voucher.FormatCOSE, vr)
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}

// obtainVoucher runs /rv honestly.
func (d *device) obtainVoucher() {
	d.t.Helper()
	if a := d.send(http.MethodPost, voucher.PathConstrainedVoucherRequest, voucher.MediaTypeVoucherCOSE, voucher.MediaTypeVoucherCOSE, d.voucherRequest()); a.status != 200 {
		d.t.Fatalf("/rv: %d %s", a.status, a.body)
	}
}

// csr is a DER PKCS#10 for the device's serial number.
func (d *device) csr(key *ecdsa.PrivateKey) []byte {
	d.t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: d.serial, CommonName: d.serial}}, key)
	if err != nil {
		d.t.Fatal(err)
	}
	return der
}

// rows is what the registrar holds of the device: its record (nil when
// none), exchanges, reports and certificates.
type rows struct {
	pledge    *store.Pledge
	exchanges []store.Exchange
	reports   []store.Telemetry
	certs     int
}

func (d *device) rows() rows {
	d.t.Helper()
	ctx := context.Background()
	p, err := d.e.Store.FindPledge(ctx, d.e.ManufacturerID, d.serial)
	if errors.Is(err, store.ErrNotFound) {
		return rows{}
	}
	if err != nil {
		d.t.Fatal(err)
	}
	r := rows{pledge: p}
	if r.exchanges, err = d.e.Store.ListExchanges(ctx, p.ID); err != nil {
		d.t.Fatal(err)
	}
	if r.reports, err = d.e.Store.ListTelemetry(ctx, p.ID); err != nil {
		d.t.Fatal(err)
	}
	cs, err := d.e.Store.ListCertificates(ctx, p.ID)
	if err != nil {
		d.t.Fatal(err)
	}
	r.certs = len(cs)
	return r
}

func expect(t *testing.T, what string, a answer, status int, reason string) {
	t.Helper()
	if a.status != status || !strings.Contains(string(a.body), reason) {
		t.Fatalf("%s: %d %q, want %d saying %q", what, a.status, a.body, status, reason)
	}
}

// TestConstrainedVoucherRequest: /rv takes a COSE voucher-request only
// (4.15 for CBOR or JSON, 4.06 for an Accept other than 836) and refuses a
// malformed one (4.00), each before a pledge is recorded; the honest
// request gets a COSE voucher without the MASA's certificates, recorded as
// /requestvoucher records it.
func TestConstrainedVoucherRequest(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	d := e.oscoreDevice(t, "RV-1")
	honest := d.voucherRequest()
	for _, tc := range []struct {
		name, contentType, accept string
		body                      []byte
		status                    int
		reason                    string
	}{
		{"JSON body", "application/json", "", []byte(`{}`), 415, "/rv takes application/voucher+cose (Content-Format 836)"},
		{"CBOR body", "application/cbor", "", honest, 415, "Content-Format 836"},
		{"CMS voucher-request", voucher.MediaTypeVoucherCMS, "", honest, 415, "Content-Format 836"},
		{"no Content-Format", "", "", honest, 415, "Content-Format 836"},
		{"Accept CBOR", voucher.MediaTypeVoucherCOSE, "application/cbor", honest, 406, "/rv answers application/voucher+cose"},
		{"Accept CMS", voucher.MediaTypeVoucherCOSE, voucher.MediaTypeVoucherCMS, honest, 406, "Content-Format 836"},
		{"not COSE", voucher.MediaTypeVoucherCOSE, "", []byte{0xa1, 0x01, 0x02}, 400, ""},
		{"truncated COSE", voucher.MediaTypeVoucherCOSE, "", honest[:len(honest)/2], 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, "/rv", d.send(http.MethodPost, voucher.PathConstrainedVoucherRequest, tc.contentType, tc.accept, tc.body), tc.status, tc.reason)
			if r := d.rows(); r.pledge != nil {
				t.Fatalf("a refused request recorded pledge %+v", r.pledge)
			}
		})
	}
	a := d.send(http.MethodPost, voucher.PathConstrainedVoucherRequest, voucher.MediaTypeVoucherCOSE, voucher.MediaTypeVoucherCOSE, honest)
	if a.status != 200 || a.contentType != voucher.MediaTypeVoucherCOSE {
		t.Fatalf("honest /rv: %d %s %q", a.status, a.contentType, a.body)
	}
	if f, ok := voucher.DetectFormat(a.body); !ok || f != voucher.FormatCOSE {
		t.Fatalf("voucher format %v", f)
	}
	r := d.rows()
	if r.pledge.State != store.StateVoucherIssued || len(r.exchanges) != 1 || r.exchanges[0].Outcome != store.OutcomeIssued || !bytes.Equal(r.exchanges[0].PledgeRequest, honest) {
		t.Fatalf("after /rv: %+v, %d exchanges", r.pledge, len(r.exchanges))
	}
	if len(a.body) >= len(r.exchanges[0].Voucher) {
		t.Fatalf("the pledge got %d bytes, the MASA sent %d: the MASA's certificates were not removed", len(a.body), len(r.exchanges[0].Voucher))
	}
	// The long name and the short one are the same resource: a method
	// other than POST is 4.05.
	expect(t, "GET /rv", d.send(http.MethodGet, voucher.PathConstrainedVoucherRequest, "", "", nil), 405, "")
}

// TestConstrainedTelemetry: /vs and /es take the draft's CBOR (and JSON);
// another Content-Format is 4.15, malformed CBOR or a report RFC 8995's
// CDDL does not allow 4.00, a pledge without a voucher exchange 4.04, and
// none of them records anything. Accepted reports are recorded as JSON
// renderings and move the pledge as the JSON resources do.
func TestConstrainedTelemetry(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	d := e.oscoreDevice(t, "VS-1")
	vs := func(contentType string, body []byte) answer {
		return d.send(http.MethodPost, voucher.PathConstrainedVoucherStatus, contentType, "", body)
	}
	es := func(contentType string, body []byte) answer {
		return d.send(http.MethodPost, voucher.PathConstrainedEnrollStatus, contentType, "", body)
	}
	expect(t, "/vs of an unknown pledge", vs("application/cbor", draftVoucherStatus), 404, "no voucher exchange")
	expect(t, "/es of an unknown pledge", es("application/cbor", draftEnrollStatusOK), 404, "no voucher exchange")
	if r := d.rows(); r.pledge != nil {
		t.Fatalf("telemetry recorded pledge %+v", r.pledge)
	}
	d.obtainVoucher()

	cborOf := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		status            int
		reason            string
	}{
		{"text", "text/plain", []byte("ok"), 415, "application/cbor (Content-Format 60)"},
		{"COSE", voucher.MediaTypeVoucherCOSE, draftVoucherStatus, 415, "Content-Format 60"},
		{"no Content-Format", "", draftVoucherStatus, 415, "Content-Format 60"},
		{"truncated CBOR", "application/cbor", draftVoucherStatus[:20], 400, "not CBOR"},
		{"trailing bytes", "application/cbor", append(append([]byte{}, draftEnrollStatusOK...), 0x00), 400, "not CBOR"},
		{"an array", "application/cbor", cborOf([]any{1, true}), 400, "not a map"},
		{"integer keys", "application/cbor", cborOf(map[int]any{1: 1, 2: true}), 400, "not a text string"},
		{"duplicate keys", "application/cbor", mustHex("A3" + "6776657273696F6E01" + "66737461747573F5" + "66737461747573F4"), 400, "not CBOR"},
		{"status as a number", "application/cbor", cborOf(map[string]any{"version": 1, "status": 1}), 400, "status report"},
		{"no status", "application/cbor", cborOf(map[string]any{"version": 1, "reason": "x"}), 400, `lacks "status"`},
		{"version 2", "application/cbor", cborOf(map[string]any{"version": 2, "status": true}), 400, "version 2"},
		{"JSON that is not", "application/json", draftVoucherStatus, 400, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := d.rows()
			expect(t, "/vs", vs(tc.contentType, tc.body), tc.status, tc.reason)
			expect(t, "/es", es(tc.contentType, tc.body), tc.status, tc.reason)
			if after := d.rows(); len(after.reports) != len(before.reports) || after.pledge.State != before.pledge.State {
				t.Fatalf("a refused report changed the records: %d -> %d reports, %s -> %s", len(before.reports), len(after.reports), before.pledge.State, after.pledge.State)
			}
		})
	}

	// The draft's voucher_status: rejected, with a reason-context keyed by
	// the integer 0, recorded with the key as text.
	expect(t, "/vs", vs("application/cbor", draftVoucherStatus), 200, "")
	r := d.rows()
	if r.pledge.State != store.StateVoucherRejected || len(r.reports) != 1 {
		t.Fatalf("after /vs false: %s, %d reports", r.pledge.State, len(r.reports))
	}
	got := r.reports[0]
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"version": 1.0, "status": false, "reason": "Informative human-readable error message",
		"reason-context": map[string]any{"0": "Additional information"}}
	if got.Kind != store.TelemetryVoucherStatus || got.Status || got.Reason != "Informative human-readable error message" || !jsonEqual(body, want) {
		t.Fatalf("recorded %+v %s", got, got.Body)
	}
	// A pledge that changes its mind reports true; the draft's
	// enrollstatus of failure before any certificate is telemetry only.
	expect(t, "/vs", vs("application/cbor", cborOf(map[string]any{"version": 1, "status": true})), 200, "")
	expect(t, "/es", es("application/cbor", draftEnrollStatusFailed), 200, "")
	r = d.rows()
	if r.pledge.State != store.StateVoucherAccepted || len(r.reports) != 3 || r.reports[2].Kind != store.TelemetryEnrollStatus || r.reports[2].Reason != "<Informative human readable error message>" {
		t.Fatalf("after /vs true and /es false: %s, %+v", r.pledge.State, r.reports)
	}
	// JSON is taken too (the draft: a registrar MAY), recorded alike.
	expect(t, "/es JSON", es("application/json", []byte(`{"version":1,"status":true}`)), 200, "")
	if r = d.rows(); len(r.reports) != 4 || r.pledge.State != store.StateVoucherAccepted {
		t.Fatalf("after /es JSON: %s, %d reports", r.pledge.State, len(r.reports))
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestConstrainedEST: EST-coaps /crts, /att, /sen and /sren behind the
// HTTP path's gate: /sen before a voucher, or before the voucher was
// accepted, is 4.03; a CSR of another Content-Format 4.15, an Accept the
// resource cannot answer 4.06, a malformed CSR 4.00; none issues
// anything. Then /sen answers the certificate alone (287) or certs-only
// (281), binary; /crts the CA certificates (281) or the issuing CA alone
// (287); /att the attributes (285); /sren renews with the domain
// certificate.
func TestConstrainedEST(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	d := e.oscoreDevice(t, "SEN-1")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr := d.csr(key)
	sen := func(contentType, accept string, body []byte) answer {
		return d.send(http.MethodPost, enroll.PathCoapsSimpleEnroll, contentType, accept, body)
	}
	expect(t, "/sen of an unknown pledge", sen(enroll.MediaTypePKCS10, "application/pkix-cert", csr), 403, "unknown pledge")
	if r := d.rows(); r.pledge != nil {
		t.Fatalf("/sen recorded pledge %+v", r.pledge)
	}
	d.obtainVoucher()
	expect(t, "/sen before /vs", sen(enroll.MediaTypePKCS10, "application/pkix-cert", csr), 403, "must report that it accepted its voucher")
	if a := d.send(http.MethodPost, voucher.PathConstrainedVoucherStatus, "application/cbor", "", mustHex("A26776657273696F6E0166737461747573F5")); a.status != 200 {
		t.Fatalf("/vs: %d %s", a.status, a.body)
	}
	for _, tc := range []struct {
		name, contentType, accept string
		body                      []byte
		status                    int
		reason                    string
	}{
		{"octet-stream CSR", "application/octet-stream", "", csr, 415, "/sen takes application/pkcs10 (Content-Format 286)"},
		{"no Content-Format", "", "", csr, 415, "Content-Format 286"},
		{"Accept CBOR", enroll.MediaTypePKCS10, "application/cbor", csr, 406, "/sen answers Content-Format 281, 287"},
		{"Accept csrattrs", enroll.MediaTypePKCS10, enroll.MediaTypeCSRAttrs, csr, 406, "281, 287"},
		{"not DER", enroll.MediaTypePKCS10, "", []byte{0x30, 0x03, 0x02}, 400, "malformed"},
		{"bad signature", enroll.MediaTypePKCS10, "", append(csr[:len(csr)-2:len(csr)-2], csr[len(csr)-1]^1, csr[len(csr)-2]), 400, ""},
		{"another serial", enroll.MediaTypePKCS10, "", (&device{t: t, serial: "SOMEONE-ELSE"}).csr(key), 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, "/sen", sen(tc.contentType, tc.accept, tc.body), tc.status, tc.reason)
			if r := d.rows(); r.certs != 0 || r.pledge.State != store.StateVoucherAccepted {
				t.Fatalf("a refused /sen left %d certificates, state %s", r.certs, r.pledge.State)
			}
		})
	}

	crts := d.send(http.MethodGet, enroll.PathCoapsCACerts, "", "", nil)
	if crts.status != 200 || crts.contentType != "application/pkcs7-mime;smime-type=certs-only" {
		t.Fatalf("/crts: %d %q", crts.status, crts.contentType)
	}
	cas, err := enroll.ParseCertsOnly(crts.body)
	if err != nil || len(cas) != 2 || crts.body[0] != 0x30 {
		t.Fatalf("/crts: %d certificates (%v), first byte %#x (DER, not base64)", len(cas), err, crts.body[0])
	}
	one := d.send(http.MethodGet, enroll.PathCoapsCACerts, "", "application/pkix-cert", nil)
	if issuing, err := x509.ParseCertificate(one.body); one.status != 200 || one.contentType != "application/pkix-cert" || err != nil || !issuing.Equal(cas[0]) || !issuing.IsCA {
		t.Fatalf("/crts 287: %d %q %v", one.status, one.contentType, err)
	}
	expect(t, "/crts Accept JSON", d.send(http.MethodGet, enroll.PathCoapsCACerts, "", "application/json", nil), 406, "/crts answers Content-Format 281, 287, 62")
	expect(t, "POST /crts", d.send(http.MethodPost, enroll.PathCoapsCACerts, enroll.MediaTypePKCS10, "", csr), 405, "")

	att := d.send(http.MethodGet, enroll.PathCoapsCSRAttrs, "", "", nil)
	if attrs, err := enroll.ParseCSRAttrs(att.body); att.status != 200 || att.contentType != enroll.MediaTypeCSRAttrs || err != nil || len(attrs) == 0 {
		t.Fatalf("/att: %d %q %v", att.status, att.contentType, err)
	}
	expect(t, "/att Accept certs", d.send(http.MethodGet, enroll.PathCoapsCSRAttrs, "", "application/pkix-cert", nil), 406, "/att answers Content-Format 285")

	a := sen(enroll.MediaTypePKCS10, "application/pkix-cert", csr)
	if a.status != 200 || a.contentType != "application/pkix-cert" {
		t.Fatalf("/sen: %d %q %s", a.status, a.contentType, a.body)
	}
	ldevid, err := x509.ParseCertificate(a.body)
	if err != nil || ldevid.Subject.SerialNumber != "SEN-1" || ldevid.CheckSignatureFrom(cas[0]) != nil {
		t.Fatalf("/sen certificate: %v", err)
	}
	if r := d.rows(); r.certs != 1 || r.pledge.State != store.StateEnrolled {
		t.Fatalf("after /sen: %d certificates, state %s", r.certs, r.pledge.State)
	}
	// The same CSR again, answered certs-only: the same certificate, not
	// a second one.
	again := sen(enroll.MediaTypePKCS10, "application/pkcs7-mime; smime-type=certs-only", csr)
	if certs, err := enroll.ParseCertsOnly(again.body); again.status != 200 || err != nil || !certs[0].Equal(ldevid) {
		t.Fatalf("/sen 281: %d %v", again.status, err)
	}
	if r := d.rows(); r.certs != 1 {
		t.Fatalf("a repeated /sen recorded %d certificates", r.certs)
	}

	// /sren renews a domain certificate, never an IDevID: in the IDevID's
	// session it is 4.03 and issues nothing.
	expect(t, "/sren by the IDevID", d.send(http.MethodPost, enroll.PathCoapsSimpleReenroll, enroll.MediaTypePKCS10, "application/pkix-cert", csr), 403, "")
	if r := d.rows(); r.certs != 1 {
		t.Fatalf("a refused /sren left %d certificates", r.certs)
	}
	// /sren in a session authenticated by the domain certificate.
	renewer, _ := oscoreSession(t, e, tls.Certificate{Certificate: [][]byte{ldevid.Raw}, PrivateKey: key, Leaf: ldevid})
	key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	expect(t, "/sren of a CBOR body", send(t, renewer, http.MethodPost, "https://registrar"+enroll.PathCoapsSimpleReenroll, "application/cbor", "", d.csr(key2)), 415, "/sren takes application/pkcs10")
	ren := send(t, renewer, http.MethodPost, "https://registrar"+enroll.PathCoapsSimpleReenroll, enroll.MediaTypePKCS10, "application/pkix-cert", d.csr(key2))
	renewed, err := x509.ParseCertificate(ren.body)
	if ren.status != 200 || err != nil || renewed.Equal(ldevid) || renewed.Subject.SerialNumber != "SEN-1" {
		t.Fatalf("/sren: %d %v %s", ren.status, err, ren.body)
	}
	if r := d.rows(); r.certs != 2 {
		t.Fatalf("after /sren: %d certificates", r.certs)
	}
}
