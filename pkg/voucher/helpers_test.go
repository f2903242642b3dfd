package voucher

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rfcTime is when the RFC 8995 Appendix C and rfc8366bis artifacts all
// verify (testdata/README of the shared set).
var rfcTime = time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC)

const (
	appendixNonce  = "-_XE9zK9q8Ll1qylMtLKeg"
	appendixSerial = "00-D0-E5-F2-00-02"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readB64 reads a base64 file that may be folded over lines.
func readB64(t testing.TB, name string) []byte {
	t.Helper()
	s := strings.Join(strings.Fields(string(readFile(t, name))), "")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

// readPEMBlock reads the first PEM block of a file, skipping any text
// dump before it.
func readPEMBlock(t testing.TB, name string) []byte {
	t.Helper()
	blk, _ := pem.Decode(readFile(t, name))
	if blk == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	return blk.Bytes
}

func readCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(readPEMBlock(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func readECKey(t testing.TB, name string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := x509.ParseECPrivateKey(readPEMBlock(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// wantCode fails t unless err is an *Error of sentinel's code.
func wantCode(t testing.TB, err error, sentinel *Error) *Error {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v, want %s", err, sentinel.Code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
	return e
}

// wantOutcome fails t unless err is nil where want is nil, and otherwise
// the sentinel want with HTTP status.
func wantOutcome(t testing.TB, err error, want *Error, status int) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if e := wantCode(t, err, want); e.Status != status {
		t.Errorf("status %d, want %d", e.Status, status)
	}
}

// testPKI is a complete BRSKI PKI made for one test: a manufacturer CA
// with an IDevID and a MASA certificate, and a domain CA with a registrar.
type testPKI struct {
	now           time.Time
	mfgCA         *x509.Certificate
	mfgKey        crypto.Signer
	idevid        *x509.Certificate
	idevidKey     crypto.Signer
	masa          *x509.Certificate
	masaKey       crypto.Signer
	domainCA      *x509.Certificate
	domainKey     crypto.Signer
	registrar     *x509.Certificate
	registrarKey  crypto.Signer
	serial        string
	masaValidTill time.Time
}

func newKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var certSerial int64 = 100

func issue(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	certSerial++
	tmpl.SerialNumber = big.NewInt(certSerial)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newPKI(t testing.TB, curve elliptic.Curve) *testPKI {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	p := &testPKI{now: now, serial: "LF-0001"}
	ca := func(cn string) (*x509.Certificate, crypto.Signer) {
		k := newKey(t, curve)
		c := issue(t, &x509.Certificate{
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(365 * 24 * time.Hour),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}, nil, k.Public(), k)
		return c, k
	}
	p.mfgCA, p.mfgKey = ca("Landfall Test Manufacturer CA")
	p.domainCA, p.domainKey = ca("Landfall Test Domain CA")

	ik := newKey(t, curve)
	ext, err := MASAURLExtension("masa.example.com:9443")
	if err != nil {
		t.Fatal(err)
	}
	p.idevid = issue(t, &x509.Certificate{
		Subject:         pkix.Name{SerialNumber: p.serial},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{ext},
	}, p.mfgCA, ik.Public(), p.mfgKey)
	p.idevidKey = ik

	mk := newKey(t, curve)
	p.masaValidTill = now.Add(30 * 24 * time.Hour)
	p.masa = issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "Landfall Test MASA"},
		NotBefore: now.Add(-time.Hour),
		NotAfter:  p.masaValidTill,
		KeyUsage:  x509.KeyUsageDigitalSignature,
	}, p.mfgCA, mk.Public(), p.mfgKey)
	p.masaKey = mk

	rk := newKey(t, curve)
	p.registrar = issue(t, &x509.Certificate{
		Subject:            pkix.Name{CommonName: "registrar.example.net"},
		NotBefore:          now.Add(-time.Hour),
		NotAfter:           now.Add(30 * 24 * time.Hour),
		KeyUsage:           x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{OIDCmcRA},
	}, p.domainCA, rk.Public(), p.domainKey)
	p.registrarKey = rk
	return p
}

// pledgeRequest signs a pledge request of this PKI's device pinning the
// registrar.
func (p *testPKI) pledgeRequest(t testing.TB, nonce string) ([]byte, *VoucherRequest) {
	t.Helper()
	r, err := NewPledgeRequest(PledgeRequestParams{SerialNumber: p.serial, Nonce: nonce, RegistrarCert: p.registrar, CreatedOn: p.now})
	if err != nil {
		t.Fatal(err)
	}
	der, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	return der, r
}

// registrarRequest wraps a pledge request as the registrar would.
func (p *testPKI) registrarRequest(t testing.TB, pledgeCMS []byte, mutate func(*VoucherRequest)) []byte {
	t.Helper()
	sc, err := ParseSigned(pledgeCMS)
	if err != nil {
		t.Fatal(err)
	}
	pledge, err := ParseVoucherRequestJSON(sc.Content)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := NewRegistrarRequest(pledgeCMS, pledge, p.idevid, p.now)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(rr)
	}
	der, err := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).SignVoucherRequest(rr)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (p *testPKI) voucher(t testing.TB, nonce string, mutate func(*Voucher)) []byte {
	t.Helper()
	v := &Voucher{Artifact: Artifact{
		CreatedOn:        p.now,
		Assertion:        AssertionLogged,
		SerialNumber:     p.serial,
		Nonce:            nonce,
		PinnedDomainCert: p.domainCA.Raw,
	}}
	if mutate != nil {
		mutate(v)
	}
	js, _ := v.MarshalJSON()
	der, err := (&Signer{Cert: p.masa, Key: p.masaKey}).Sign(js)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (p *testPKI) voucherCheck(nonce string) VoucherCheck {
	return VoucherCheck{
		ManufacturerRoots: poolOf(p.mfgCA),
		SerialNumber:      p.serial,
		Nonce:             nonce,
		At:                p.now,
	}
}
