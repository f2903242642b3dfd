package httpapi_test

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/pkg/voucher"
	"github.com/landfall-io/landfall/pkg/voucher/vouchertest"
)

// testNow is the clock of the generated-PKI tests: the real time, because
// pkg/voucher's CMS signer stamps signing-time from the real clock and
// verification checks it against the signer's validity.
var testNow = time.Now().UTC().Truncate(time.Second)

type keyPair struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (k keyPair) tls() *tls.Certificate {
	return &tls.Certificate{Certificate: [][]byte{k.cert.Raw}, PrivateKey: k.key, Leaf: k.cert}
}

func issue(t testing.TB, tmpl *x509.Certificate, parent *keyPair) keyPair {
	t.Helper()
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = testNow.Add(-24 * time.Hour)
		tmpl.NotAfter = testNow.Add(365 * 24 * time.Hour)
	}
	var pc *x509.Certificate
	var pk crypto.Signer
	if parent != nil {
		pc, pk = parent.cert, parent.key
	}
	c, key := testkit.Issue(t, tmpl, pc, pk)
	return keyPair{c, key}
}

func newCA(t testing.TB, name string) keyPair {
	return issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil)
}

// domain is an owner: a domain CA and registrars under it.
type domain struct {
	ca        keyPair
	registrar keyPair // with id-kp-cmcRA
}

func newDomain(t testing.TB, name string) domain {
	ca := newCA(t, name+" domain CA")
	ra := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: name + " registrar"},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}, &ca)
	return domain{ca: ca, registrar: ra}
}

// testPKI is a manufacturer (IDevID CA, voucher signer) and two domains.
type testPKI struct {
	manufacturer keyPair
	signer       keyPair
	a, b         domain
}

func newTestPKI(t testing.TB) *testPKI {
	p := &testPKI{manufacturer: newCA(t, "manufacturer IDevID CA"), a: newDomain(t, "a"), b: newDomain(t, "b")}
	p.signer = issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "MASA voucher signer"}, KeyUsage: x509.KeyUsageDigitalSignature}, &p.manufacturer)
	return p
}

func (p *testPKI) config() envConfig {
	return envConfig{ca: p.manufacturer.cert, caKey: p.manufacturer.key, signer: p.signer.cert, signerKey: p.signer.key, now: testNow}
}

// newPledge issues an IDevID through the MASA's factory path, which also
// registers the device.
func newPledge(t testing.TB, e *env, serial, product string) keyPair {
	t.Helper()
	key := testkit.Key(t)
	csr := testkit.CSR(t, key, pkix.Name{SerialNumber: serial})
	cert, err := e.svc.IssueIDevID(context.Background(), masa.IssueRequest{CSR: csr, Product: product, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// pkg/voucher reads the serial number and MASA URL back.
	if sn, err := voucher.SerialFromX520(cert); err != nil || sn != serial {
		t.Fatalf("IDevID serial %q, %v", sn, err)
	}
	if u, err := voucher.MASAURL(cert); err != nil || u != "masa.example.com" {
		t.Fatalf("IDevID MASA URL %q, %v", u, err)
	}
	return keyPair{cert, key}
}

// request describes a registrar voucher-request to build.
type request struct {
	pledge         keyPair
	pledgeSerial   string // default: the IDevID's
	registrar      keyPair
	chain          []*x509.Certificate // certificates after the signer
	serial         string              // registrar's serial-number; default pledgeSerial
	nonce          string              // both requests; "" for nonceless
	registrarNonce *string             // overrides the registrar's nonce
	proximityCert  *x509.Certificate   // default: registrar
	noPrior        bool
	contentType    asn1.ObjectIdentifier // of the registrar's CMS; default id-ct-animaJSONVoucher
	// bare and barePrior sign the registrar's or the pledge's request the
	// attacker's way, without CMS signed attributes (RFC 5652 5.3).
	bare, barePrior bool
}

func signBare(t testing.TB, content []byte, kp keyPair, chain []*x509.Certificate) []byte {
	t.Helper()
	der, err := vouchertest.SignWithoutSignedAttributes(content, voucher.OIDAnimaJSONVoucher, kp.cert, kp.key, chain...)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func sign(t testing.TB, content []byte, kp keyPair, chain []*x509.Certificate, ctype ...asn1.ObjectIdentifier) []byte {
	t.Helper()
	s := &voucher.Signer{Cert: kp.cert, Key: kp.key, Chain: chain}
	if len(ctype) > 0 && ctype[0] != nil {
		s.ContentType = ctype[0]
	}
	der, err := s.Sign(content)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// build returns the CMS registrar voucher-request (RFC 8995 5.5) wrapping
// the pledge's (5.2).
func (r request) build(t testing.TB) []byte {
	t.Helper()
	ps := r.pledgeSerial
	if ps == "" {
		ps = r.pledge.cert.Subject.SerialNumber
	}
	prox := r.proximityCert
	if prox == nil {
		prox = r.registrar.cert
	}
	pv := map[string]any{"assertion": "proximity", "created-on": testNow.Format(time.RFC3339), "serial-number": ps,
		"proximity-registrar-cert": prox.Raw}
	if r.nonce == "" {
		// A registrar asks for a nonceless voucher on its own (RFC 8995
		// 5.5): there is no pledge request, whose nonce is mandatory.
		r.noPrior = true
	}
	if r.nonce != "" {
		pv["nonce"] = r.nonce
	}
	pj, _ := json.Marshal(map[string]any{"ietf-voucher-request:voucher": pv})
	prior := sign(t, pj, r.pledge, nil)
	if r.barePrior {
		prior = signBare(t, pj, r.pledge, nil)
	}
	serial := r.serial
	if serial == "" {
		serial = ps
	}
	rv := map[string]any{"assertion": "proximity", "created-on": testNow.Format(time.RFC3339), "serial-number": serial}
	if !r.noPrior {
		rv["prior-signed-voucher-request"] = prior
	}
	switch {
	case r.registrarNonce != nil:
		rv["nonce"] = *r.registrarNonce
	case r.nonce != "":
		rv["nonce"] = r.nonce
	}
	rj, _ := json.Marshal(map[string]any{"ietf-voucher-request:voucher": rv})
	if r.bare {
		return signBare(t, rj, r.registrar, r.chain)
	}
	return sign(t, rj, r.registrar, r.chain, r.contentType)
}

// forDomain is a well-formed request from d's registrar.
func forDomain(pledge keyPair, d domain, nonce string) request {
	return request{pledge: pledge, registrar: d.registrar, chain: []*x509.Certificate{d.ca.cert}, nonce: nonce}
}

func csrFor(t testing.TB, serial string) []byte {
	return testkit.CSR(t, testkit.Key(t), pkix.Name{SerialNumber: serial})
}
