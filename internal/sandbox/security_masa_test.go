package sandbox_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/pkg/voucher"
	"github.com/landfall-io/landfall/pkg/voucher/vouchertest"
)

// testSecurityMASA: the MASA of issue 11 (items 10 and 15), attacked over
// its real TLS device listener (d.MASAServer), with its own PostgreSQL
// database read back after every row.
//
// Item 10: a caller that is not the device owner's registrar cannot tell
// an unknown serial-number, a device not sold yet and one sold to another
// domain (here the deployment's own example.net) apart, on requestvoucher
// and requestauditlog: the status, the headers but Date and the body are
// the same bytes, and nothing is written. Callers: an unsigned request; a
// registrar with a self-signed id-kp-cmcRA certificate holding the
// pledge's own signed request (a rogue registrar the pledge accepted
// provisionally); the registrar of another registered domain, asking
// nonceless on its own.
//
// Item 15: a voucher-request whose CMS has no signed attributes (RFC 5652
// 5.3) is refused with 400 and no voucher, from the owner's own registrar.
func testSecurityMASA(t *testing.T) {
	ctx := context.Background()
	masaDB := testpg.Database(t)
	d := testdeploy.StartWith(t, sandbox.Options{MASADatabaseURL: masaDB})
	db, err := pgx.Connect(ctx, masaDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	e := &masaEnv{d: d, db: db, now: time.Now().UTC().Truncate(time.Second)}

	devices := map[string]tls.Certificate{"unknown": e.unregisteredIDevID(t, "MSEC-UNKNOWN")}
	for kind, owned := range map[string]bool{"unsold": false, "owned": true} {
		if devices[kind], err = d.NewDevice(ctx, "MSEC-"+strings.ToUpper(kind), owned); err != nil {
			t.Fatal(err)
		}
	}
	// Another customer of the manufacturer: a registered domain whose
	// registrar owns none of these devices.
	other := masaNewDomain(t, "attacker.example")
	if _, err := d.MASA.CreateOwner(ctx, "attacker.example", other.ca.Raw, "sales"); err != nil {
		t.Fatal(err)
	}
	rogue := masaSelfSignedRA(t, "registrar.example.net")

	callers := []struct {
		name, endpoint string
		build          func(t *testing.T, idevid tls.Certificate) []byte
		status         int
		reason         string
	}{
		{"unsigned", "requestvoucher", e.unsignedRequest, 400, "malformed"},
		{"self-signed", "requestvoucher", func(t *testing.T, id tls.Certificate) []byte { return e.withPledge(t, id, rogue) }, 404, masa.ReasonNoSuchDevice},
		{"other-domain", "requestvoucher", func(t *testing.T, id tls.Certificate) []byte { return e.nonceless(t, id, other.registrar) }, 404, masa.ReasonNoSuchDevice},
		{"auditlog-unsigned", "requestauditlog", e.unsignedRequest, 400, "malformed"},
		{"auditlog-self-signed", "requestauditlog", func(t *testing.T, id tls.Certificate) []byte { return e.withPledge(t, id, rogue) }, 404, masa.ReasonNoSuchDevice},
		{"auditlog-other-domain", "requestauditlog", func(t *testing.T, id tls.Certificate) []byte { return e.withPledge(t, id, other.registrar) }, 404, masa.ReasonNoSuchDevice},
	}
	for _, c := range callers {
		var ref masaAnswer // the answer for the unknown serial-number
		for _, kind := range []string{"unknown", "unsold", "owned"} {
			t.Run(fmt.Sprintf("10/%s-%s-serial", c.name, kind), func(t *testing.T) {
				before := e.snapshot(t)
				got := e.post(t, c.endpoint, c.build(t, devices[kind]))
				if got.status != c.status || !strings.Contains(got.body, c.reason) {
					t.Fatalf("answer %d %q, want %d %q", got.status, got.body, c.status, c.reason)
				}
				if c.status == 404 && got.body != masa.ReasonNoSuchDevice+"\n" {
					t.Errorf("body %q names more than the one reason", got.body)
				}
				if kind == "unknown" {
					ref = got
				} else if got != ref {
					t.Errorf("answered differently from an unknown serial-number:\n%+v\n%+v", got, ref)
				}
				if after := e.snapshot(t); after != before {
					t.Errorf("MASA database changed:\nbefore %s\nafter  %s", before, after)
				}
				e.wantVouchers(t, devices[kind], 0)
			})
		}
	}
	owner := masaRegistrar{cert: d.State.TLSCert.Leaf, key: d.State.TLSCert.PrivateKey.(crypto.Signer)}
	if owner.cert == nil {
		if owner.cert, err = x509.ParseCertificate(d.State.TLSCert.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	for _, der := range d.State.TLSCert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		owner.chain = append(owner.chain, c)
	}
	// The registrar of a registered domain that holds the unsold device
	// (its pledge signed a request pinning that registrar) is told the
	// decision is pending, as RFC 8995 5.6 allows: nothing it cannot learn
	// from the device in its hands, and nothing is written.
	// Both registered domains' registrars: attacker.example carries its
	// domain CA in the CMS; example.net's registrar carries its issuing
	// CA, whose authority key identifier names the registered root.
	for _, h := range []struct {
		name string
		reg  masaRegistrar
	}{{"other-domain", other.registrar}, {"sandbox-domain", owner}} {
		t.Run("10/"+h.name+"-holding-unsold-device-202", func(t *testing.T) {
			before := e.snapshot(t)
			got := e.post(t, "requestvoucher", e.withPledge(t, devices["unsold"], h.reg))
			if got.status != 202 || !strings.Contains(got.header, "Retry-After: 60") || !strings.Contains(got.body, "no owner is recorded") {
				t.Fatalf("answer %+v", got)
			}
			if after := e.snapshot(t); after != before {
				t.Errorf("MASA database changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	for _, tc := range []struct {
		name, reason string
		build        func(t *testing.T) []byte
	}{
		{"15/unsigned-attributes-voucher-request", "no-signed-attributes: eContentType 1.2.840.113549.1.9.16.1.40 needs signed attributes (RFC 5652 5.3)",
			func(t *testing.T) []byte { return e.withPledgeBare(t, devices["owned"], owner, false, true) }},
		{"15/unsigned-attributes-pledge-request", "no-signed-attributes: prior-signed-voucher-request: eContentType 1.2.840.113549.1.9.16.1.40 needs signed attributes (RFC 5652 5.3)",
			func(t *testing.T) []byte { return e.withPledgeBare(t, devices["owned"], owner, true, false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot(t)
			got := e.post(t, "requestvoucher", tc.build(t))
			if got.status != 400 || got.body != tc.reason+"\n" {
				t.Fatalf("answer %d %q, want 400 %q", got.status, got.body, tc.reason)
			}
			if after := e.snapshot(t); after != before {
				t.Errorf("MASA database changed:\nbefore %s\nafter  %s", before, after)
			}
			e.wantVouchers(t, devices["owned"], 0)
		})
	}
	// The owner's registrar, signing as Landfall signs, gets the voucher
	// and its record: the refusals above are about the attacker's bytes.
	t.Run("15/signed-attributes-owner-gets-voucher", func(t *testing.T) {
		got := e.post(t, "requestvoucher", e.withPledgeBare(t, devices["owned"], owner, false, false))
		if got.status != 200 || !strings.Contains(got.header, "Content-Type: application/voucher-cms+json") {
			t.Fatalf("answer %d %q", got.status, got.body)
		}
		e.wantVouchers(t, devices["owned"], 1)
	})

	// RFC 8995 3.4 (and rfc8366bis's refines): the voucher-only leaves in
	// a voucher-request "MUST be ignored". The owner's registrar, confused
	// or subverted, writes another domain's pins, a revocation-check
	// setting (the opposite of the MASA's, which writes false) and a
	// last-renewal-date into its request: the voucher holds what the MASA
	// chose, none of them.
	t.Run("3.4/voucher-only-leaves-in-request-ignored", func(t *testing.T) {
		dev, err := d.NewDevice(ctx, "MSEC-PINS", true)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(other.ca.RawSubjectPublicKeyInfo)
		extra := `"pinned-domain-cert":"` + base64.StdEncoding.EncodeToString(other.ca.Raw) + `",` +
			`"pinned-domain-pubk":"` + base64.StdEncoding.EncodeToString(other.ca.RawSubjectPublicKeyInfo) + `",` +
			`"pinned-domain-pubk-sha256":"` + base64.StdEncoding.EncodeToString(sum[:]) + `",` +
			`"domain-cert-revocation-checks":true,"last-renewal-date":"2099-01-01T00:00:00Z",`
		got := e.post(t, "requestvoucher", e.withPledgeExtra(t, dev, owner, extra))
		if got.status != 200 {
			t.Fatalf("answer %d %q", got.status, got.body)
		}
		sc, err := voucher.ParseSigned([]byte(got.body))
		if err != nil {
			t.Fatal(err)
		}
		v, err := voucher.ParseVoucherJSON(sc.Content)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(v.PinnedDomainCert, other.ca.Raw) || v.PinnedDomainPubk != nil || v.PinnedDomainPubkSHA256 != nil ||
			v.DomainCertRevocationChecks == nil || *v.DomainCertRevocationChecks || !v.LastRenewalDate.IsZero() || v.PinnedDomainCert == nil {
			t.Fatalf("the voucher took a leaf from the request: %+v", v.Artifact)
		}
		pinned, err := x509.ParseCertificate(v.PinnedDomainCert)
		if err != nil || pinned.Subject.CommonName == other.ca.Subject.CommonName {
			t.Fatalf("pinned %v, %v", pinned.Subject, err)
		}
		e.wantVouchers(t, dev, 1)
	})
}

// withPledgeExtra is withPledge with extra, JSON members ending in a
// comma, written first into the registrar's request.
func (e *masaEnv) withPledgeExtra(t *testing.T, idevid tls.Certificate, reg masaRegistrar, extra string) []byte {
	t.Helper()
	pr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: idevid.Leaf.Subject.SerialNumber,
		Nonce: "n-" + idevid.Leaf.Subject.SerialNumber, RegistrarCert: reg.cert, CreatedOn: e.now})
	if err != nil {
		t.Fatal(err)
	}
	pledgeCMS, err := (&voucher.Signer{Cert: idevid.Leaf, Key: idevid.PrivateKey.(crypto.Signer)}).SignVoucherRequest(pr)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := voucher.NewRegistrarRequest(pledgeCMS, pr, idevid.Leaf, e.now)
	if err != nil {
		t.Fatal(err)
	}
	rj, _ := rr.MarshalJSON()
	rj = bytes.Replace(rj, []byte(`"ietf-voucher-request:voucher":{`), []byte(`"ietf-voucher-request:voucher":{`+extra), 1)
	der, err := (&voucher.Signer{Cert: reg.cert, Key: reg.key, Chain: reg.chain}).Sign(rj)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

type masaEnv struct {
	d   *sandbox.Deployment
	db  *pgx.Conn
	now time.Time
}

// masaAnswer is what a caller sees of a MASA answer, but the Date header.
type masaAnswer struct {
	status       int
	header, body string
}

func (e *masaEnv) post(t *testing.T, endpoint string, body []byte) masaAnswer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.d.MASAServer.URL+"/.well-known/brski/"+endpoint, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/voucher-cms+json")
	resp, err := e.d.MASAServer.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var h []string
	for k, vs := range resp.Header {
		// Date and the request id change with every request and say
		// nothing of the serial; every other header must be identical.
		if k != "Date" && k != "X-Request-Id" {
			h = append(h, k+": "+strings.Join(vs, ", "))
		}
	}
	slices.Sort(h)
	return masaAnswer{resp.StatusCode, strings.Join(h, "\n"), string(b)}
}

// snapshot digests every table of the MASA database.
func (e *masaEnv) snapshot(t *testing.T) string {
	t.Helper()
	return testkit.Snapshot(t, e.db, "owners", "devices", "policies", "vouchers", "audit_events", "tokens")
}

// wantVouchers checks the vouchers rows of the device.
func (e *masaEnv) wantVouchers(t *testing.T, idevid tls.Certificate, n int) {
	t.Helper()
	var got int
	if err := e.db.QueryRow(context.Background(), `SELECT count(*) FROM vouchers WHERE serial_number = $1`,
		idevid.Leaf.Subject.SerialNumber).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("%d voucher rows for %s, want %d", got, idevid.Leaf.Subject.SerialNumber, n)
	}
}

// unregisteredIDevID is an IDevID the manufacturer's CA signed for a
// serial-number the MASA never registered.
func (e *masaEnv) unregisteredIDevID(t *testing.T, serial string) tls.Certificate {
	t.Helper()
	leaf, key := testkit.Issue(t, &x509.Certificate{Subject: pkix.Name{SerialNumber: serial},
		NotBefore: e.now.Add(-time.Hour), NotAfter: e.now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}, e.d.MASAKeys.CACert, e.d.MASAKeys.CAKey)
	return testkit.TLSCert(leaf, key)
}

// unsignedRequest is a voucher-request for the device in plain JSON.
func (e *masaEnv) unsignedRequest(t *testing.T, idevid tls.Certificate) []byte {
	js, _ := json.Marshal(map[string]any{"ietf-voucher-request:voucher": map[string]any{
		"assertion": "proximity", "serial-number": idevid.Leaf.Subject.SerialNumber, "nonce": "n-1"}})
	return js
}

type masaRegistrar struct {
	cert  *x509.Certificate
	key   crypto.Signer
	chain []*x509.Certificate
}

// nonceless is a registrar's own voucher-request for the device, without
// a pledge request (RFC 8995 5.5).
func (e *masaEnv) nonceless(t *testing.T, idevid tls.Certificate, reg masaRegistrar) []byte {
	t.Helper()
	r := &voucher.VoucherRequest{Artifact: voucher.Artifact{CreatedOn: e.now, Assertion: voucher.AssertionProximity,
		SerialNumber: idevid.Leaf.Subject.SerialNumber}}
	der, err := (&voucher.Signer{Cert: reg.cert, Key: reg.key, Chain: reg.chain}).SignVoucherRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// withPledge is the registrar voucher-request wrapping the pledge's own
// signed request that pins reg (RFC 8995 5.2, 5.5).
func (e *masaEnv) withPledge(t *testing.T, idevid tls.Certificate, reg masaRegistrar) []byte {
	return e.withPledgeBare(t, idevid, reg, false, false)
}

// withPledgeBare is withPledge with the pledge's (barePledge) or the
// registrar's (bareRegistrar) CMS signed without signed attributes.
func (e *masaEnv) withPledgeBare(t *testing.T, idevid tls.Certificate, reg masaRegistrar, barePledge, bareRegistrar bool) []byte {
	t.Helper()
	pr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: idevid.Leaf.Subject.SerialNumber,
		Nonce: "n-" + idevid.Leaf.Subject.SerialNumber, RegistrarCert: reg.cert, CreatedOn: e.now})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(js []byte, cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate, bare bool) []byte {
		t.Helper()
		var der []byte
		var err error
		if bare {
			der, err = vouchertest.SignWithoutSignedAttributes(js, voucher.OIDAnimaJSONVoucher, cert, key, chain...)
		} else {
			der, err = (&voucher.Signer{Cert: cert, Key: key, Chain: chain}).Sign(js)
		}
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pj, _ := pr.MarshalJSON()
	pledgeCMS := sign(pj, idevid.Leaf, idevid.PrivateKey.(crypto.Signer), nil, barePledge)
	rr, err := voucher.NewRegistrarRequest(pledgeCMS, pr, idevid.Leaf, e.now)
	if err != nil {
		t.Fatal(err)
	}
	rj, _ := rr.MarshalJSON()
	return sign(rj, reg.cert, reg.key, reg.chain, bareRegistrar)
}

// masaDomain is a domain CA and its registrar (id-kp-cmcRA).
type masaDomain struct {
	ca        *x509.Certificate
	registrar masaRegistrar
}

func masaNewDomain(t *testing.T, name string) masaDomain {
	t.Helper()
	caTmpl := testkit.CATemplate(name + " domain CA")
	caTmpl.SerialNumber = big.NewInt(1)
	ca, caKey := testkit.Issue(t, caTmpl, nil, nil)
	ra, raKey := testkit.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject:  pkix.Name{CommonName: "registrar." + name},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}}, ca, caKey)
	return masaDomain{ca: ca, registrar: masaRegistrar{cert: ra, key: raKey, chain: []*x509.Certificate{ca}}}
}

// masaSelfSignedRA is a self-signed registrar certificate with
// id-kp-cmcRA: anyone can make one.
func masaSelfSignedRA(t *testing.T, cn string) masaRegistrar {
	t.Helper()
	c, key := testkit.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: cn},
		KeyUsage: x509.KeyUsageDigitalSignature, UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}}, nil, nil)
	return masaRegistrar{cert: c, key: key}
}
