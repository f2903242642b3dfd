package voucher

import (
	"crypto"
	"crypto/x509"
	"time"
)

// VoucherCheck is what a pledge judges a voucher by (RFC 8995 section
// 5.6.1).
type VoucherCheck struct {
	// ManufacturerRoots is the anchor installed at manufacture that the
	// MASA's signature must chain to.
	ManufacturerRoots *x509.CertPool
	// MASACerts are the MASA certificates the pledge holds: the RFC's
	// voucher does not carry its signer.
	MASACerts    []*x509.Certificate
	SerialNumber string // the pledge's own
	// Nonce is the nonce of the pledge's request. A voucher must carry
	// exactly it; a pledge that sent none accepts only nonceless vouchers.
	Nonce string
	// AllowNonceless accepts a voucher without a nonce although the pledge
	// sent one (a pledge with a clock may trust expires-on instead).
	AllowNonceless bool
	// IDevIDIssuer, when set, must equal the voucher's idevid-issuer if it
	// has one.
	IDevIDIssuer []byte
	// At is the pledge's time. Zero, for a pledge without a clock, skips
	// expires-on and judges the MASA chain at the signing time.
	At time.Time
	// Format is the signature format of the signed bytes (FormatCMS, the
	// zero value, FormatJWS or FormatCOSE); the checks are the same.
	Format Format
}

// AcceptedVoucher is a voucher the pledge accepted, and what it now trusts.
type AcceptedVoucher struct {
	Voucher *Voucher
	Signer  *x509.Certificate // the MASA
	// PinnedDomainCert is the domain certificate the pledge must see the
	// registrar chain to in the next step (RFC 8995 5.6.2); nil when the
	// voucher pins a bare key.
	PinnedDomainCert *x509.Certificate
	// PinnedDomainPubk is the pinned public key when the voucher uses
	// pinned-domain-pubk; nil otherwise.
	PinnedDomainPubk crypto.PublicKey
}

// CheckVoucher makes the pledge's checks of RFC 8995 section 5.6.1: the
// signature verifies and chains to the manufacturer's anchor (ErrUntrusted,
// ErrBadSignature), the voucher is valid (ErrMissingLeaf,
// ErrUnknownAssertion, ...), it names this pledge (ErrSerialMismatch) and
// answers this request (ErrNonceMismatch), and it has not expired
// (ErrExpired).
func CheckVoucher(signed []byte, c VoucherCheck) (*AcceptedVoucher, error) {
	if c.ManufacturerRoots == nil {
		return nil, fail(ErrUntrusted, "no manufacturer anchor")
	}
	sc, err := VerifyAs(c.Format, signed, VerifyOptions{Roots: c.ManufacturerRoots, Intermediates: c.MASACerts, At: c.At})
	if err != nil {
		return nil, err
	}
	v, err := sc.ParseVoucher()
	if err != nil {
		return nil, err
	}
	if v.SerialNumber != c.SerialNumber {
		return nil, fail(ErrSerialMismatch, "voucher for %q, pledge is %q", v.SerialNumber, c.SerialNumber)
	}
	switch {
	case v.Nonce == c.Nonce:
	case v.Nonce == "" && c.AllowNonceless:
	default:
		return nil, fail(ErrNonceMismatch, "voucher nonce %q, request nonce %q", v.Nonce, c.Nonce)
	}
	if c.IDevIDIssuer != nil && v.IDevIDIssuer != nil && !sameIDevIDIssuer(c.IDevIDIssuer, v.IDevIDIssuer) {
		return nil, fail(ErrSerialMismatch, "idevid-issuer names another issuer")
	}
	if !c.At.IsZero() && !v.ExpiresOn.IsZero() && c.At.After(v.ExpiresOn) {
		return nil, fail(ErrExpired, "voucher expired at %s", formatDateTime(v.ExpiresOn))
	}
	out := &AcceptedVoucher{Voucher: v, Signer: sc.Signer}
	switch {
	case v.PinnedDomainCert != nil:
		out.PinnedDomainCert, _ = x509.ParseCertificate(v.PinnedDomainCert) // Validate parsed it
	case v.PinnedDomainPubk != nil:
		out.PinnedDomainPubk, _ = x509.ParsePKIXPublicKey(v.PinnedDomainPubk)
	}
	return out, nil
}
