package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

var serials atomic.Int64

func init() { serials.Store(time.Now().UnixNano()) }

// Issue signs tmpl for a fresh P-256 key with parent and parentKey, or
// self-signed when parent is nil. A zero SerialNumber becomes one unique in
// the test binary; a zero NotBefore makes the certificate valid from an
// hour ago for a day.
func Issue(t testing.TB, tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	return IssueFor(t, tmpl, Key(t), parent, parentKey)
}

// IssueFor is Issue for a given key.
func IssueFor(t testing.TB, tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(serials.Add(1))
	}
	if tmpl.NotBefore.IsZero() {
		now := time.Now()
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// CATemplate is the template of a CA certificate named cn (RFC 5280
// 4.2.1.9 basicConstraints, keyCertSign).
func CATemplate(cn string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
}

// CA is a self-signed CA named cn.
func CA(t testing.TB, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	return Issue(t, CATemplate(cn), nil, nil)
}

// Intermediate is a CA named cn that parent issued.
func Intermediate(t testing.TB, cn string, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	return Issue(t, CATemplate(cn), parent, parentKey)
}

// Leaf is an end-entity certificate with subject and digitalSignature
// that parent issued (self-signed when parent is nil).
func Leaf(t testing.TB, subject pkix.Name, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	return Issue(t, &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature}, parent, parentKey)
}

// IDevID is a device certificate (RFC 8995 2.3.1): subject serialNumber
// serial and, when masaURL is not "", the MASA URL extension, issued by the
// manufacturer CA ca.
func IDevID(t testing.TB, subject pkix.Name, masaURL string, ca *x509.Certificate, caKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	tmpl := &x509.Certificate{Subject: subject, KeyUsage: x509.KeyUsageDigitalSignature}
	if masaURL != "" {
		ext, err := voucher.MASAURLExtension(masaURL)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{ext}
	}
	return Issue(t, tmpl, ca, caKey)
}

// SelfSignedCA returns the DER of a self-signed CA certificate named cn,
// serial 1, valid from an hour before now for a day.
func SelfSignedCA(t testing.TB, cn string, now time.Time) []byte {
	t.Helper()
	tmpl := CATemplate(cn)
	tmpl.KeyUsage = 0
	tmpl.SerialNumber = big.NewInt(1)
	tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	c, _ := Issue(t, tmpl, nil, nil)
	return c.Raw
}

// CSR is a PKCS#10 request (RFC 2986) with subject and extension requests
// signed by key.
func CSR(t testing.TB, key crypto.Signer, subject pkix.Name, exts ...pkix.Extension) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, ExtraExtensions: exts}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
