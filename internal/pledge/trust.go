package pledge

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// registrarPinned checks the provisionally accepted registrar chain against
// the voucher's pinned-domain-cert (RFC 8995 5.6.2): the registrar's
// certificate must chain to it (or be it), or carry the pinned key.
func registrarPinned(chain []*x509.Certificate, v *voucher.AcceptedVoucher, at time.Time) error {
	if len(chain) == 0 {
		return errors.New("no registrar certificate")
	}
	if v.PinnedDomainCert == nil {
		if v.PinnedDomainPubk != nil && publicKeyEqual(chain[0].PublicKey, v.PinnedDomainPubk) {
			return nil
		}
		return errors.New("registrar certificate does not carry the pinned domain key")
	}
	if chain[0].Equal(v.PinnedDomainCert) {
		return nil
	}
	roots := x509.NewCertPool()
	roots.AddCert(v.PinnedDomainCert)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("registrar certificate does not chain to the pinned domain certificate: %w", err)
	}
	return nil
}

// verifyDomainCert checks the issued certificate against /cacerts.
func verifyDomainCert(chain, cacerts []*x509.Certificate, at time.Time) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range cacerts {
		if c.IsCA && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("issued certificate does not chain to the domain CA: %w", err)
	}
	return nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}
