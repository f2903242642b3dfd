package voucher

import (
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// A chain that does not link is refused when signing, every time (a
// failure is not remembered); a chain that links is checked once and its
// signer names the certificate's own issuer.
func TestSignerChainLinks(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	rr := &VoucherRequest{}
	bad := &Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.masa}}
	for range 2 {
		if _, err := bad.SignVoucherRequest(rr); err == nil || !strings.Contains(err.Error(), "does not link") {
			t.Fatalf("a chain that does not link: %v", err)
		}
	}
	good := &Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}
	for range 2 {
		der, err := good.SignVoucherRequest(rr)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := ParseSigned(der)
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Certificates) != 2 || !sc.Certificates[0].Equal(p.registrar) || !sc.Certificates[1].Equal(p.domainCA) {
			t.Fatalf("certificates carried: %d", len(sc.Certificates))
		}
	}
	if err := checkChainLinks(p.registrar, []*x509.Certificate{p.domainCA}); err != nil {
		t.Fatal(err)
	}
	if err := checkChainLinks(p.registrar, []*x509.Certificate{p.domainCA, p.masa}); err == nil || errors.Unwrap(err) == nil {
		t.Fatalf("a longer chain with a bad link: %v", err)
	}
}

// signedBy remembers links that verified, never one that did not: a
// certificate of the same subject under another key, or a leaf whose
// signature was changed, is refused however often it is asked and after
// the genuine link was remembered; and carriedChain stops at such a link.
func TestSignedByRemembersOnlyVerifiedLinks(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	impostorKey := newKey(t, elliptic.P256())
	impostor := issue(t, &x509.Certificate{
		Subject: p.domainCA.Subject, NotBefore: p.domainCA.NotBefore, NotAfter: p.domainCA.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, nil, impostorKey.Public(), impostorKey)
	raw := append([]byte(nil), p.registrar.Raw...)
	raw[len(raw)-1] ^= 1 // the last byte of the signature's s
	forged, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if !signedBy(p.registrar, p.domainCA) {
			t.Fatal("the genuine link does not verify")
		}
		if signedBy(p.registrar, impostor) {
			t.Fatal("a same-named CA under another key signs the registrar")
		}
		if signedBy(forged, p.domainCA) {
			t.Fatal("a changed signature verifies")
		}
		if signedBy(p.domainCA, p.registrar) {
			t.Fatal("a leaf signs its CA")
		}
	}
	if got := carriedChain(p.registrar, []*x509.Certificate{impostor}); len(got) != 1 {
		t.Fatalf("carriedChain followed a link that does not verify: %d certificates", len(got))
	}
	if got := carriedChain(p.registrar, []*x509.Certificate{impostor, p.domainCA}); len(got) != 2 || !got[1].Equal(p.domainCA) {
		t.Fatalf("carriedChain did not find the genuine issuer: %d certificates", len(got))
	}
}
