package voucher

import (
	"bytes"
	"crypto"
	"crypto/sha256"
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
	// RequestPin is the proximity leaf the pledge's request carried
	// (PinCert for proximity-registrar-cert, PinPubk, PinPubkSHA256): of
	// several pins in a voucher, the pledge takes the one that matches it
	// (rfc8366bis). Zero (PinByOrder) takes the first present in the
	// draft's order, what a nonceless voucher gets.
	RequestPin Pin
}

// Pin names the leaf a voucher pins the domain by.
type Pin int

// The pinning leaves. Their order is rfc8366bis's: "the Pledge SHALL
// consider the first of the above attributes that it understands, in the
// order given above": pinned-domain-pubk-sha256, pinned-domain-pubk,
// pinned-domain-cert.
const (
	PinByOrder    Pin = iota // no preference: the draft's order
	PinPubkSHA256            // pinned-domain-pubk-sha256 (proximity-registrar-pubk-sha256)
	PinPubk                  // pinned-domain-pubk (proximity-registrar-pubk)
	PinCert                  // pinned-domain-cert (proximity-registrar-cert)
)

// String is the voucher leaf's name.
func (p Pin) String() string {
	switch p {
	case PinPubkSHA256:
		return leafPinnedDomainPubkSHA256
	case PinPubk:
		return leafPinnedDomainPubk
	case PinCert:
		return leafPinnedDomainCert
	}
	return "by-order"
}

// choosePin returns the pin the pledge goes by (rfc8366bis section 6):
// "In the event that more than one of pinned-domain-pubk-sha256,
// pinned-domain-pubk or pinned-domain-cert are present in a voucher, then
// the Pledge SHALL prioritize the proximity entry which it used in its
// voucher-request artifact, ignoring the others. If the voucher is
// nonce-less (and thus not the result of a voucher-request), then the
// Pledge SHALL consider the first of the above attributes that it
// understands, in the order given above." A voucher that lacks the
// requested kind falls back to that order: it still pins one the pledge
// understands (Landfall's pledge understands all three).
func choosePin(a *Artifact, requested Pin) Pin {
	present := map[Pin]bool{
		PinPubkSHA256: a.PinnedDomainPubkSHA256 != nil,
		PinPubk:       a.PinnedDomainPubk != nil,
		PinCert:       a.PinnedDomainCert != nil,
	}
	if a.Nonce != "" && present[requested] {
		return requested
	}
	for _, p := range []Pin{PinPubkSHA256, PinPubk, PinCert} {
		if present[p] {
			return p
		}
	}
	return PinByOrder // Validate requires one: unreachable
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
	// PinnedDomainPubkSHA256 is the SHA-256 of the pinned
	// SubjectPublicKeyInfo when the voucher uses pinned-domain-pubk-sha256;
	// nil otherwise.
	PinnedDomainPubkSHA256 []byte
	// Pin says which of the three the pledge goes by: of several in the
	// voucher, only that one is set above (choosePin).
	Pin Pin
}

// PinsRegistrar checks a registrar's TLS chain (leaf first) against the
// chosen pin (RFC 8995 5.6.2): the leaf must be, or chain to, the pinned
// certificate, or carry the pinned key, or a key of the pinned digest.
func (a *AcceptedVoucher) PinsRegistrar(chain []*x509.Certificate, at time.Time) error {
	if len(chain) == 0 {
		return fail(ErrProximityMismatch, "no registrar certificate")
	}
	leaf := chain[0]
	switch a.Pin {
	case PinPubkSHA256:
		sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
		if bytes.Equal(sum[:], a.PinnedDomainPubkSHA256) {
			return nil
		}
		return fail(ErrProximityMismatch, "registrar key is not the %s", leafPinnedDomainPubkSHA256)
	case PinPubk:
		if k, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && k.Equal(a.PinnedDomainPubk) {
			return nil
		}
		return fail(ErrProximityMismatch, "registrar key is not the %s", leafPinnedDomainPubk)
	case PinCert:
		if leaf.Equal(a.PinnedDomainCert) {
			return nil
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(a.PinnedDomainCert)
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return failWrap(ErrProximityMismatch, err, "registrar does not chain to the %s", leafPinnedDomainCert)
		}
		return nil
	}
	return fail(ErrProximityMismatch, "the voucher pins nothing")
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
	out := &AcceptedVoucher{Voucher: v, Signer: sc.Signer, Pin: choosePin(&v.Artifact, c.RequestPin)}
	switch out.Pin { // Validate parsed each
	case PinCert:
		out.PinnedDomainCert, _ = x509.ParseCertificate(v.PinnedDomainCert)
	case PinPubk:
		out.PinnedDomainPubk, _ = x509.ParsePKIXPublicKey(v.PinnedDomainPubk)
	case PinPubkSHA256:
		out.PinnedDomainPubkSHA256 = v.PinnedDomainPubkSHA256
	}
	return out, nil
}
