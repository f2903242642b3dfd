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
