package voucher

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"
)

// This file ties the three signature formats together: CMS (RFC 8366
// section 5.4), JWS (draft-ietf-anima-jws-voucher, jws.go) and COSE_Sign1
// (draft-ietf-anima-constrained-voucher, cose.go). Each wraps the same
// voucher or voucher-request; the role checks (checks_*.go) take the
// format in their Format field and apply the same rules whatever it is.

// Format is a voucher signature format.
type Format int

// The formats. The zero value is CMS, what RFC 8366 and RFC 8995 define.
const (
	FormatCMS  Format = iota // application/voucher-cms+json
	FormatJWS                // application/voucher-jws+json
	FormatCOSE               // application/voucher+cose
)

func (f Format) String() string {
	switch f {
	case FormatCMS:
		return "cms"
	case FormatJWS:
		return "jws"
	case FormatCOSE:
		return "cose"
	}
	return "unknown"
}

// MediaType is the format's media type.
func (f Format) MediaType() string {
	switch f {
	case FormatJWS:
		return MediaTypeVoucherJWS
	case FormatCOSE:
		return MediaTypeVoucherCOSE
	}
	return MediaTypeVoucherCMS
}

// ParseFormat reads the names the pledge's --voucher-format flag takes:
// cms, jws, cose (any case); empty is cms.
func ParseFormat(name string) (Format, error) {
	switch strings.ToLower(name) {
	case "cms", "":
		return FormatCMS, nil
	case "jws":
		return FormatJWS, nil
	case "cose":
		return FormatCOSE, nil
	}
	return 0, fail(ErrUnsupportedContent, "voucher format %q (want cms, jws or cose)", name)
}

// FormatOfMediaType returns the format a Content-Type or Accept media
// type names; parameters are ignored. Any other type is
// ErrUnsupportedContent (415).
func FormatOfMediaType(mediaType string) (Format, error) {
	mt, _, err := mime.ParseMediaType(mediaType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(mediaType))
	}
	switch mt {
	case MediaTypeVoucherCMS:
		return FormatCMS, nil
	case MediaTypeVoucherJWS:
		return FormatJWS, nil
	case MediaTypeVoucherCOSE:
		return FormatCOSE, nil
	}
	return 0, fail(ErrUnsupportedContent, "media type %q", mediaType)
}

// DetectFormat guesses the format of signed bytes from their first byte:
// a DER SEQUENCE is CMS, a JSON object is JWS, a CBOR tag 18 or a
// four-element array is COSE_Sign1. It is how a MASA reads the
// prior-signed-voucher-request, which carries no media type of its own.
func DetectFormat(b []byte) (Format, bool) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0, false
	}
	switch b[0] {
	case 0x30:
		return FormatCMS, true
	case '{':
		return FormatJWS, true
	case 0xd2, 0x84:
		return FormatCOSE, true
	}
	return 0, false
}

// Errors of the JWS and COSE formats.
const (
	// CodeUnsupportedAlgorithm: the signature algorithm is not one this
	// package accepts, or does not fit the signer's key.
	CodeUnsupportedAlgorithm ErrorCode = "unsupported-algorithm"
	// CodeNoSignerCert: the signed object neither carries nor names a
	// certificate that verifies it, and none supplied does.
	CodeNoSignerCert ErrorCode = "no-signer-cert"
)

var (
	// ErrUnsupportedAlgorithm answers 400: a request "not signed
	// correctly" in the sense of RFC 8995 5.6 would be 403, but an
	// algorithm outside the profile is a malformed object, refused before
	// any key is tried.
	ErrUnsupportedAlgorithm = &Error{Status: http.StatusBadRequest, Code: CodeUnsupportedAlgorithm}
	// ErrNoSignerCert answers 403, as an untrusted signer does.
	ErrNoSignerCert = &Error{Status: http.StatusForbidden, Code: CodeNoSignerCert}
)

// SignVoucherAs signs v in format f (COSE takes its headers from s.COSE).
func (s *Signer) SignVoucherAs(f Format, v *Voucher) ([]byte, error) {
	switch f {
	case FormatJWS:
		return s.SignVoucherJWS(v)
	case FormatCOSE:
		return s.SignVoucherCOSE(v)
	}
	return s.SignVoucher(v)
}

// SignVoucherRequestAs signs r in format f.
func (s *Signer) SignVoucherRequestAs(f Format, r *VoucherRequest) ([]byte, error) {
	switch f {
	case FormatJWS:
		return s.SignVoucherRequestJWS(r)
	case FormatCOSE:
		return s.SignVoucherRequestCOSE(r)
	}
	return s.SignVoucherRequest(r)
}

// VerifyAs verifies signed bytes of format f against opts. For CMS it is
// Verify. For JWS and COSE, SignedContent.Content is the payload (JSON
// for JWS, SID-keyed CBOR for COSE) and SigningTime, which neither format
// signs, is the payload's created-on when opts.At is zero (and zero
// otherwise): like CMS signing-time it is the signer's own claim, and it
// is the time the chain is judged at for a pledge without a clock.
func VerifyAs(f Format, signed []byte, opts VerifyOptions) (*SignedContent, error) {
	switch f {
	case FormatCMS:
		sc, err := Verify(signed, opts)
		if err == nil {
			sc.Format = FormatCMS
		}
		return sc, err
	case FormatJWS:
		return VerifyJWS(signed, opts)
	case FormatCOSE:
		return VerifyCOSE(signed, opts)
	}
	return nil, fail(ErrUnsupportedContent, "format %d", int(f))
}

// ParseAs parses signed bytes of format f without verifying them (ParseSigned,
// ParseJWS or ParseCOSE), for a reader that judges no signature.
func ParseAs(f Format, signed []byte) (*SignedContent, error) {
	switch f {
	case FormatCMS:
		return ParseSigned(signed)
	case FormatJWS:
		return ParseJWS(signed)
	case FormatCOSE:
		return ParseCOSE(signed)
	}
	return nil, fail(ErrUnsupportedContent, "format %d", int(f))
}

// ParseVoucher decodes sc.Content as a voucher in its format and
// validates it.
func (sc *SignedContent) ParseVoucher() (*Voucher, error) {
	if sc.Format == FormatCOSE {
		return ParseVoucherCBOR(sc.Content)
	}
	return ParseVoucherJSON(sc.Content)
}

// ParseVoucherRequest decodes sc.Content as a voucher-request in its
// format (validate it for its role).
func (sc *SignedContent) ParseVoucherRequest() (*VoucherRequest, error) {
	if sc.Format == FormatCOSE {
		return ParseVoucherRequestCBOR(sc.Content)
	}
	return ParseVoucherRequestJSON(sc.Content)
}

// algorithm is a signature algorithm of the JWS and COSE profiles: ECDSA
// with the hash RFC 7518 3.4 and RFC 9053 2.1 pair with each curve.
type algorithm struct {
	jose  string // JWS alg
	cose  int64  // COSE alg
	curve elliptic.Curve
	hash  crypto.Hash
	size  int // bytes of r and of s
}

var algorithms = []algorithm{
	{"ES256", -7, elliptic.P256(), crypto.SHA256, 32},
	{"ES384", -35, elliptic.P384(), crypto.SHA384, 48},
	{"ES512", -36, elliptic.P521(), crypto.SHA512, 66},
}

// algorithmFor returns the algorithm of key, which must be ECDSA on
// P-256, P-384 or P-521.
func algorithmFor(pub crypto.PublicKey) (algorithm, error) {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		for _, a := range algorithms {
			if a.curve == k.Curve {
				return a, nil
			}
		}
	}
	return algorithm{}, fail(ErrUnsupportedAlgorithm, "key %T: JWS and COSE vouchers are ECDSA P-256, P-384 or P-521", pub)
}

// fits reports whether cert's key is the one a signs with.
func (a algorithm) fits(cert *x509.Certificate) bool {
	k, ok := cert.PublicKey.(*ecdsa.PublicKey)
	return ok && k.Curve == a.curve
}

// verifyChain judges signer as cms_verify.go does: against opts.Roots with
// the carried certificates and opts.Intermediates as intermediates, at
// opts.At or else at claimed, with opts.KeyUsages. It returns the chains;
// nil Roots checks nothing.
func verifyChain(signer *x509.Certificate, carried []*x509.Certificate, opts VerifyOptions, claimed time.Time) ([][]*x509.Certificate, error) {
	if opts.Roots == nil {
		return nil, nil
	}
	at := opts.At
	if at.IsZero() {
		at = claimed
	}
	if at.IsZero() {
		return nil, fail(ErrUntrusted, "no time to judge validity at")
	}
	inter := x509.NewCertPool()
	for _, c := range carried {
		inter.AddCert(c)
	}
	for _, c := range opts.Intermediates {
		inter.AddCert(c)
	}
	usages := opts.KeyUsages
	if usages == nil {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	chains, err := signer.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     usages,
	})
	if err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return nil, failWrap(ErrExpired, err, "signer chain at %s", at.UTC().Format(time.RFC3339))
		}
		return nil, failWrap(ErrUntrusted, err, "signer chain")
	}
	return chains, nil
}

// claimedTime is the created-on of a JSON or CBOR payload, zero if it has
// none or does not parse (the role checks refuse that later).
func claimedTime(f Format, payload []byte) time.Time {
	var a Artifact
	if f == FormatCOSE {
		if r, err := ParseVoucherRequestCBOR(payload); err == nil {
			return r.CreatedOn
		}
		if v, err := decodeVoucherCBOR(payload); err == nil {
			return v.CreatedOn
		}
		return a.CreatedOn
	}
	if r, err := ParseVoucherRequestJSON(payload); err == nil {
		return r.CreatedOn
	}
	if v, err := decodeVoucher(payload); err == nil {
		return v.CreatedOn
	}
	return a.CreatedOn
}
