package pledge

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// registrarPinned checks the provisionally accepted registrar chain
// against the pin the voucher's check chose (RFC 8995 5.6.2; rfc8366bis:
// of several pins, the one the pledge's request used): the registrar's
// certificate must be, or chain to, the pinned certificate, or carry the
// pinned key or a key of the pinned digest.
func registrarPinned(chain []*x509.Certificate, v *voucher.AcceptedVoucher, at time.Time) error {
	return v.PinsRegistrar(chain, at)
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
