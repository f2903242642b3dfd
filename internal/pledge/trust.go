package pledge

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// acceptVoucher is RFC 8995 5.6.1 on the pledge: the voucher (signed, in
// format) is checked against the manufacturer's anchor, this pledge's
// serial number and its request's nonce, then the registrar's chain
// against the pin the voucher chose. A renewing link accepts, from then
// on, a renewed context from any replica the pinned domain vouches for.
func (r *run) acceptVoucher(l *link, signed []byte, nonce string, format voucher.Format) (*voucher.AcceptedVoucher, error) {
	cfg := r.cfg
	accepted, err := voucher.CheckVoucher(signed, voucher.VoucherCheck{
		ManufacturerRoots: cfg.ManufacturerAnchors, MASACerts: cfg.MASACerts,
		SerialNumber: r.res.Serial, Nonce: nonce, At: cfg.now(), Format: format,
		// The request carries proximity-registrar-cert.
		RequestPin: voucher.PinCert,
	})
	if err != nil {
		return nil, err
	}
	r.res.Voucher = accepted.Voucher
	if err := registrarPinned(l.registrarChain, accepted, cfg.now()); err != nil {
		return nil, err
	}
	if l.renewing != nil {
		l.renewing.setAccept(func(chain []*x509.Certificate) error { return registrarPinned(chain, accepted, cfg.now()) })
	}
	return accepted, nil
}

// registrarPinned checks the provisionally accepted registrar chain
// against the pin the voucher's check chose (RFC 8995 5.6.2; rfc8366bis:
// of several pins, the one the pledge's request used): the registrar's
// certificate must be, or chain to, the pinned certificate, or carry the
// pinned key or a key of the pinned digest.
func registrarPinned(chain []*x509.Certificate, v *voucher.AcceptedVoucher, at time.Time) error {
	return v.PinsRegistrar(chain, at)
}

// verifyDomainCert checks the issued certificate against /cacerts. The
// self-issued CA certificates of /cacerts are the anchors (RFC 7030 4.1.3:
// the response is the pledge's explicit trust anchor database, trusted
// because it came over the channel the voucher authenticated); their own
// self-signatures, which x509 never checks of a root, are not verified
// either. Every link below them is.
func verifyDomainCert(chain, cacerts []*x509.Certificate, at time.Time) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range cacerts {
		if c.IsCA && bytes.Equal(c.RawSubject, c.RawIssuer) {
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
