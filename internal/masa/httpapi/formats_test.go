package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/landfall-io/landfall/api"
	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// The MASA's side of the JWS and COSE voucher formats (issue 15): a
// registrar voucher-request in any of the three formats, by its
// Content-Type, answered in the format Accept asks for (the request's own
// by default), with the same checks in each.

// formatRequest is a registrar voucher-request of format f signed by ra
// with d's CA as its chain, wrapping a pledge request signed by pledge in
// the same format that pins d's registrar, as Landfall's registrar builds it: the COSE pledge
// request carries no certificate, so the registrar's x5bag carries the
// IDevID.
func formatRequest(t *testing.T, f voucher.Format, pledge keyPair, d domain, ra keyPair, nonce string) []byte {
	t.Helper()
	pvr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: pledge.cert.Subject.SerialNumber, Nonce: nonce,
		RegistrarCert: d.registrar.cert, CreatedOn: testNow})
	if err != nil {
		t.Fatal(err)
	}
	ps := &voucher.Signer{Cert: pledge.cert, Key: pledge.key, COSE: voucher.COSEOptions{Certs: voucher.COSENoCerts}}
	prior, err := ps.SignVoucherRequestAs(f, pvr)
	if err != nil {
		t.Fatal(err)
	}
	rvr, err := voucher.NewRegistrarRequest(prior, pvr, pledge.cert, testNow)
	if err != nil {
		t.Fatal(err)
	}
	chain := []*x509.Certificate{d.ca.cert}
	if f == voucher.FormatCOSE {
		chain = append(chain, pledge.cert)
	}
	signed, err := (&voucher.Signer{Cert: ra.cert, Key: ra.key, Chain: chain}).SignVoucherRequestAs(f, rvr)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func postVoucherRequest(t *testing.T, e *env, path, contentType, accept string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return call{method: http.MethodPost, url: e.device.URL + path, contentType: contentType, accept: accept, body: body, client: e.client(nil)}.do(t)
}

func countVouchers(t *testing.T, e *env) int {
	t.Helper()
	vs, err := e.store.ListVouchers(context.Background(), masa.VoucherFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(vs)
}

// TestVoucherInEachFormat: every request format with every Accept gets a
// voucher of the negotiated format that the pledge's checks accept, one
// new record each; the same request and Accept again gets the same bytes
// and no record, the same request with another Accept a voucher of that
// format.
func TestVoucherInEachFormat(t *testing.T) {
	p := newTestPKI(t)
	e := newEnv(t, p.config())
	ctx := context.Background()
	pledge := newPledge(t, e, "SN-FORMATS", "widget")
	owner, err := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{"SN-FORMATS"}}, owner.ID, "test"); err != nil {
		t.Fatal(err)
	}
	anchors := x509.NewCertPool()
	anchors.AddCert(p.manufacturer.cert)
	first := "" // the first voucher's nonce, in the audit log below
	for _, rf := range voucher.Formats {
		accepts := []struct {
			accept string
			want   voucher.Format
		}{{"", rf}, {"*/*", rf}, {"application/*", rf}, {rf.MediaType(), rf}}
		for _, other := range voucher.Formats {
			accepts = append(accepts, struct {
				accept string
				want   voucher.Format
			}{"text/plain, " + other.MediaType(), other})
		}
		for _, a := range accepts {
			t.Run(fmt.Sprintf("%s request, Accept %q", rf, a.accept), func(t *testing.T) {
				nonce, _ := voucher.NewNonce()
				if first == "" {
					first = nonce
				}
				body := formatRequest(t, rf, pledge, p.a, p.a.registrar, nonce)
				before := countVouchers(t, e)
				resp, got := postVoucherRequest(t, e, voucher.PathRequestVoucher, rf.MediaType(), a.accept, body)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, got)
				}
				if ct := resp.Header.Get("Content-Type"); ct != a.want.MediaType() {
					t.Fatalf("Content-Type %q, want %q", ct, a.want.MediaType())
				}
				if f, ok := voucher.DetectFormat(got); !ok || f != a.want {
					t.Fatalf("voucher bytes are %v (%v)", f, ok)
				}
				av, err := voucher.CheckVoucher(got, voucher.VoucherCheck{ManufacturerRoots: anchors, MASACerts: []*x509.Certificate{p.signer.cert},
					SerialNumber: "SN-FORMATS", Nonce: nonce, At: testNow, Format: a.want})
				if err != nil {
					t.Fatalf("the pledge refuses the voucher: %v", err)
				}
				if !av.PinnedDomainCert.Equal(p.a.ca.cert) || av.Voucher.Assertion != voucher.AssertionProximity {
					t.Fatalf("voucher pins %v, assertion %s", av.PinnedDomainCert.Subject, av.Voucher.Assertion)
				}
				if after := countVouchers(t, e); after != before+1 {
					t.Fatalf("%d vouchers recorded, want %d", after, before+1)
				}
				// Repeated: the same bytes, nothing recorded.
				resp, again := postVoucherRequest(t, e, voucher.PathRequestVoucher, rf.MediaType(), a.accept, body)
				if resp.StatusCode != http.StatusOK || !bytes.Equal(again, got) || resp.Header.Get("Content-Type") != a.want.MediaType() {
					t.Fatalf("repeated request: %d %s, same bytes %v", resp.StatusCode, resp.Header.Get("Content-Type"), bytes.Equal(again, got))
				}
				if after := countVouchers(t, e); after != before+1 {
					t.Fatalf("a repeated request recorded a voucher (%d)", after)
				}
			})
		}
	}
	// The same request asked in two formats is two vouchers.
	body := formatRequest(t, voucher.FormatJWS, pledge, p.a, p.a.registrar, newNonce(t))
	_, asJWS := postVoucherRequest(t, e, voucher.PathRequestVoucher, voucher.MediaTypeVoucherJWS, "", body)
	resp, asCOSE := postVoucherRequest(t, e, voucher.PathRequestVoucher, voucher.MediaTypeVoucherJWS, voucher.MediaTypeVoucherCOSE, body)
	if f, _ := voucher.DetectFormat(asCOSE); resp.StatusCode != http.StatusOK || f != voucher.FormatCOSE || bytes.Equal(asJWS, asCOSE) {
		t.Fatalf("the JWS request asked for COSE: %d, %v", resp.StatusCode, f)
	}

	// The admin API names each voucher's format.
	resp, listed := call{method: http.MethodGet, url: e.admin.URL + "/admin/v1/vouchers?serial_number=SN-FORMATS&limit=1000", token: e.token(masa.RoleAuditor)}.do(t)
	var page struct{ Items []struct{ Format string } }
	if err := json.Unmarshal(listed, &page); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("voucher list: %d %v", resp.StatusCode, err)
	}
	byFormat := map[string]int{}
	for _, v := range page.Items {
		byFormat[v.Format]++
	}
	// Each request format: four Accepts of its own plus one naming each
	// format; then the JWS and COSE answers to one JWS request.
	if byFormat["cms"] != 7 || byFormat["jws"] != 8 || byFormat["cose"] != 8 || len(byFormat) != 3 {
		t.Fatalf("vouchers listed by format: %v", byFormat)
	}

	// The audit log reads a JWS or COSE request as it does a CMS one.
	for _, f := range []voucher.Format{voucher.FormatJWS, voucher.FormatCOSE} {
		resp, log := postVoucherRequest(t, e, voucher.PathRequestAuditLog, f.MediaType(), "application/json", formatRequest(t, f, pledge, p.a, p.a.registrar, newNonce(t)))
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(log), `"nonce":"`+first+`"`) {
			t.Fatalf("%s audit log: %d %s", f, resp.StatusCode, log)
		}
	}
}

// TestVoucherFormatRefusals: a request format the MASA does not read is
// 415, an Accept naming no format it signs 406, and the MASA's role checks
// refuse a registrar request in JWS or COSE as they do in CMS; the
// database is unchanged after each.
func TestVoucherFormatRefusals(t *testing.T) {
	p := newTestPKI(t)
	e := newEnv(t, p.config())
	ctx := context.Background()
	pledge := newPledge(t, e, "SN-REFUSED", "widget")
	owner, err := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{"SN-REFUSED"}}, owner.ID, "test"); err != nil {
		t.Fatal(err)
	}
	notRA := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "not a registrar"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, &p.a.ca)
	otherMaker := newCA(t, "other maker")
	foreign := issue(t, &x509.Certificate{Subject: pkix.Name{SerialNumber: "SN-REFUSED"}, KeyUsage: x509.KeyUsageDigitalSignature}, &otherMaker)
	type refusal struct {
		name        string
		contentType string
		accept      string
		body        []byte
		status      int
		reason      string
	}
	var cases []refusal
	for _, f := range voucher.Formats {
		good := formatRequest(t, f, pledge, p.a, p.a.registrar, newNonce(t))
		cases = append(cases,
			refusal{f.String() + ": Accept names no voucher format", f.MediaType(), "application/json", good, 406, "returns only"},
			refusal{f.String() + ": Accept refuses every format", f.MediaType(), "application/voucher-cms+json;q=0, application/voucher-jws+json;q=0, application/voucher+cose;q=0", good, 406, "Accept names none"},
			refusal{f.String() + ": signer without id-kp-cmcRA", f.MediaType(), "", formatRequest(t, f, pledge, p.a, notRA, newNonce(t)), 403, "id-kp-cmcRA"},
			refusal{f.String() + ": the pledge pinned another registrar", f.MediaType(), "", formatRequest(t, f, pledge, domain{ca: p.a.ca, registrar: p.b.registrar}, p.a.registrar, newNonce(t)), 403, "proximity-mismatch"},
			refusal{f.String() + ": IDevID of another manufacturer", f.MediaType(), "", formatRequest(t, f, foreign, p.a, p.a.registrar, newNonce(t)), 403, "untrusted"},
			refusal{f.String() + ": tampered", f.MediaType(), "", tamperFormat(t, f, good), 403, "bad-signature"},
		)
		for _, other := range voucher.Formats {
			if other != f {
				cases = append(cases, refusal{f.String() + " bytes labelled " + other.String(), other.MediaType(), "", good, 400, "malformed"})
			}
		}
	}
	cms := formatRequest(t, voucher.FormatCMS, pledge, p.a, p.a.registrar, newNonce(t))
	for _, ct := range []string{"", "application/json", "application/cose", "application/voucher+cbor", "application/pkcs7-mime", "text/plain"} {
		cases = append(cases, refusal{"Content-Type " + ct, ct, "", cms, 415, "Content-Type must be one of application/voucher-cms+json, application/voucher-jws+json, application/voucher+cose"})
	}
	// A nonce JSON carries as text but CBOR only as base64-decoded bytes:
	// no COSE voucher can answer it.
	cases = append(cases, refusal{"COSE voucher for a nonce that is not base64", voucher.MediaTypeVoucherCMS, voucher.MediaTypeVoucherCOSE,
		formatRequest(t, voucher.FormatCMS, pledge, p.a, p.a.registrar, "not base64!"), 400, "CBOR carries it as bytes"})
	cases = append(cases, refusal{"audit log: Accept a voucher format", voucher.MediaTypeVoucherJWS, voucher.MediaTypeVoucherJWS, formatRequest(t, voucher.FormatJWS, pledge, p.a, p.a.registrar, newNonce(t)), 406, "returns only application/json"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := voucher.PathRequestVoucher
			if strings.HasPrefix(tc.name, "audit log") {
				path = voucher.PathRequestAuditLog
			}
			before := e.snapshot()
			resp, body := postVoucherRequest(t, e, path, tc.contentType, tc.accept, tc.body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.reason) {
				t.Fatalf("answer %d %q, want %d saying %q", resp.StatusCode, body, tc.status, tc.reason)
			}
			if after := e.snapshot(); after != before {
				t.Fatalf("database changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// tamperFormat changes one byte of the signed payload of a request of
// format f, leaving the envelope well formed.
func tamperFormat(t *testing.T, f voucher.Format, signed []byte) []byte {
	t.Helper()
	switch f {
	case voucher.FormatCMS:
		return bytes.Replace(signed, []byte(`"proximity"`), []byte(`"proximitz"`), 1)
	case voucher.FormatJWS:
		// The payload is base64url JSON; flipping a character of it keeps
		// it base64url.
		i := bytes.Index(signed, []byte(`"payload":"`)) + len(`"payload":"`) + 8
		out := append([]byte(nil), signed...)
		if out[i] == 'A' {
			out[i] = 'B'
		} else {
			out[i] = 'A'
		}
		return out
	}
	sc, err := voucher.ParseCOSE(signed)
	if err != nil {
		t.Fatal(err)
	}
	// The CBOR payload holds the serial-number as a text string.
	i := bytes.Index(signed, sc.Content) + bytes.Index(sc.Content, []byte("SN-REFUSED"))
	out := append([]byte(nil), signed...)
	out[i+len("SN-REFUSED")-1] = 'X'
	return out
}

func newNonce(t *testing.T) string {
	t.Helper()
	n, err := voucher.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRSASignerServesCMSOnly: JWS and COSE vouchers are ECDSA only, so a
// MASA whose voucher-signing key is RSA answers 406 to an Accept naming
// only those, naming CMS as what it returns, and records nothing; a JWS
// request whose Accept admits CMS (or is absent) gets a CMS voucher.
func TestRSASignerServesCMSOnly(t *testing.T) {
	p := newTestPKI(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "RSA voucher signer"}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.manufacturer.cert, &rsaKey.PublicKey, p.manufacturer.key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := p.config()
	if cfg.signer, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	cfg.signerKey = rsaKey
	e := newEnv(t, cfg)
	ctx := context.Background()
	pledge := newPledge(t, e, "SN-RSA", "widget")
	owner, err := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{"SN-RSA"}}, owner.ID, "test"); err != nil {
		t.Fatal(err)
	}
	body := formatRequest(t, voucher.FormatJWS, pledge, p.a, p.a.registrar, newNonce(t))
	for _, accept := range []string{voucher.MediaTypeVoucherJWS, voucher.MediaTypeVoucherCOSE} {
		before := e.snapshot()
		resp, got := postVoucherRequest(t, e, voucher.PathRequestVoucher, voucher.MediaTypeVoucherJWS, accept, body)
		if resp.StatusCode != http.StatusNotAcceptable || !strings.Contains(string(got), "returns only application/voucher-cms+json vouchers") {
			t.Fatalf("Accept %q: %d %s", accept, resp.StatusCode, got)
		}
		if e.snapshot() != before {
			t.Fatalf("Accept %q: the database changed", accept)
		}
	}
	for _, accept := range []string{"application/voucher-jws+json, application/voucher-cms+json", ""} {
		resp, got := postVoucherRequest(t, e, voucher.PathRequestVoucher, voucher.MediaTypeVoucherJWS, accept, body)
		if f, _ := voucher.DetectFormat(got); resp.StatusCode != http.StatusOK || f != voucher.FormatCMS || resp.Header.Get("Content-Type") != voucher.MediaTypeVoucherCMS {
			t.Fatalf("JWS request, Accept %q: %d %v", accept, resp.StatusCode, f)
		}
	}
}

func init() {
	openapi3filter.RegisterBodyDecoder(voucher.MediaTypeVoucherJWS, openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder(voucher.MediaTypeVoucherCOSE, openapi3filter.FileBodyDecoder)
}

// TestOpenAPIVoucherFormats: JWS and COSE voucher-requests and vouchers,
// and the 406 and 415 refusals, are exchanges api/openapi.yaml describes
// (kin-openapi validates each request and answer).
func TestOpenAPIVoucherFormats(t *testing.T) {
	_, sc := api.Contract(t)
	p := newTestPKI(t)
	cfg := p.config()
	cfg.wrap = sc.Wrap
	e := newEnv(t, cfg)
	ctx := context.Background()
	pledge := newPledge(t, e, "SN-SPEC", "widget")
	owner, err := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{"SN-SPEC"}}, owner.ID, "test"); err != nil {
		t.Fatal(err)
	}
	for _, f := range voucher.Formats {
		for _, answer := range voucher.Formats {
			body := formatRequest(t, f, pledge, p.a, p.a.registrar, newNonce(t))
			if resp, b := postVoucherRequest(t, e, voucher.PathRequestVoucher, f.MediaType(), answer.MediaType(), body); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s request for %s: %d %s", f, answer, resp.StatusCode, b)
			}
		}
		body := formatRequest(t, f, pledge, p.a, p.a.registrar, newNonce(t))
		if resp, _ := postVoucherRequest(t, e, voucher.PathRequestVoucher, f.MediaType(), "application/json", body); resp.StatusCode != http.StatusNotAcceptable {
			t.Fatalf("406: %d", resp.StatusCode)
		}
		if resp, _ := postVoucherRequest(t, e, voucher.PathRequestAuditLog, f.MediaType(), "application/json", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("audit log: %d", resp.StatusCode)
		}
	}
	if resp, _ := postVoucherRequest(t, e, voucher.PathRequestVoucher, "application/cose", "", []byte{0xd2}); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("415: %d", resp.StatusCode)
	}
}
