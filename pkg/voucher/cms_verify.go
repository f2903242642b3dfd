package voucher

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
)

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// VerifyOptions says what a signed voucher or voucher-request is checked
// against.
type VerifyOptions struct {
	// Roots are the trust anchors the signer must chain to. Nil checks the
	// signature only and leaves trust to the caller (the registrar's
	// provisional acceptance of a pledge, RFC 8995 5.3).
	Roots *x509.CertPool
	// Intermediates are certificates supplied out of band: the RFC 8995
	// voucher does not carry the MASA's certificate. They may include the
	// signer's own certificate.
	Intermediates []*x509.Certificate
	// At is the time validity is judged at. Zero means the signing-time
	// attribute of the CMS (a pledge without a clock).
	At time.Time
	// KeyUsages constrain the signer's extended key usage; nil allows any.
	KeyUsages []x509.ExtKeyUsage
}

// SignedContent is a parsed CMS SignedData and what verification learned.
type SignedContent struct {
	Content      []byte                // the encapsulated JSON
	ContentType  asn1.ObjectIdentifier // eContentType
	Signer       *x509.Certificate
	Certificates []*x509.Certificate // carried in the CMS, in order
	Chains       [][]*x509.Certificate
	SigningTime  time.Time // zero when the attribute is absent
	// Format is the signature format the content came in (VerifyAs).
	Format Format

	p7 *pkcs7.PKCS7
}

// ParseSigned parses CMS SignedData without verifying anything: the result
// may be forged. Use it only to decide how to verify (which anchors, which
// device), then call Verify. It does refuse what is malformed whatever the
// signature: more or fewer than one signer, no content, and signed
// attributes missing or incomplete (checkSignedAttributes).
func ParseSigned(der []byte) (*SignedContent, error) {
	if len(der) == 0 {
		return nil, fail(ErrMalformed, "empty CMS")
	}
	ct, err := eContentType(der)
	if err != nil {
		return nil, err
	}
	if !ct.Equal(OIDAnimaJSONVoucher) && !ct.Equal(OIDData) {
		return nil, fail(ErrUnsupportedContent, "eContentType %s", ct)
	}
	p7, err := parsePKCS7(der)
	if err != nil {
		return nil, certParseError(err, "CMS")
	}
	if len(p7.Signers) != 1 {
		return nil, fail(ErrMalformed, "%d signers, want 1", len(p7.Signers))
	}
	if len(p7.Content) == 0 {
		return nil, fail(ErrMalformed, "no encapsulated content")
	}
	sc := &SignedContent{
		Content:      p7.Content,
		ContentType:  ct,
		Certificates: p7.Certificates,
		p7:           p7,
	}
	if err := checkSignedAttributes(p7, ct); err != nil {
		return nil, err
	}
	var st time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &st); err == nil {
		sc.SigningTime = st
	}
	return sc, nil
}

// checkSignedAttributes applies RFC 5652 5.3: signedAttrs "MUST be present
// if the content type of the EncapsulatedContentInfo value being signed is
// not id-data" (rfc8366bis requires them for every voucher artifact), and
// when present they MUST hold a content-type attribute equal to
// eContentType (11.1) and a message-digest attribute (11.2). Without
// signedAttrs the signature covers the content alone, so any signature
// the key ever made over the same bytes, for any purpose, would pass as a
// voucher or voucher-request.
func checkSignedAttributes(p7 *pkcs7.PKCS7, ct asn1.ObjectIdentifier) error {
	if len(p7.Signers[0].AuthenticatedAttributes) == 0 {
		if ct.Equal(OIDData) {
			return nil
		}
		return fail(ErrNoSignedAttributes, "eContentType %s needs signed attributes (RFC 5652 5.3)", ct)
	}
	var signedCT asn1.ObjectIdentifier
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeContentType, &signedCT); err != nil {
		return fail(ErrNoSignedAttributes, "signed attributes without content-type (RFC 5652 5.3)")
	}
	if !signedCT.Equal(ct) {
		return fail(ErrBadSignature, "content-type attribute %s differs from eContentType %s", signedCT, ct)
	}
	var digest []byte
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeMessageDigest, &digest); err != nil {
		return fail(ErrNoSignedAttributes, "signed attributes without message-digest (RFC 5652 5.3)")
	}
	return nil
}

// Verify checks CMS SignedData: one signer, whose certificate is carried or
// supplied in opts.Intermediates, whose signature covers the content, and
// who chains to opts.Roots at opts.At. It returns the content and signer.
func Verify(der []byte, opts VerifyOptions) (*SignedContent, error) {
	sc, err := ParseSigned(der)
	if err != nil {
		return nil, err
	}
	if err := sc.verify(opts); err != nil {
		return nil, err
	}
	return sc, nil
}

func (sc *SignedContent) verify(opts VerifyOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fail(ErrMalformed, "CMS: %v", r)
		}
	}()
	p7 := sc.p7
	carried := p7.Certificates
	all := append(append([]*x509.Certificate(nil), carried...), opts.Intermediates...)
	p7.Certificates = all
	sc.Signer = p7.GetOnlySigner()
	if sc.Signer == nil {
		p7.Certificates = carried
		return fail(ErrUntrusted, "the signer's certificate is neither carried nor supplied")
	}
	if err := acceptECPublicKeySignatureAlgorithm(p7, sc.Signer); err != nil {
		p7.Certificates = carried
		return err
	}
	verr := p7.VerifyWithChainAtTime(nil, opts.At) // nil pool: signature only
	p7.Certificates = carried
	if verr != nil {
		var stErr *pkcs7.SigningTimeNotValidError
		if errors.As(verr, &stErr) {
			return failWrap(ErrExpired, verr, "signed outside the signer's validity")
		}
		if strings.HasPrefix(verr.Error(), "pkcs7: unsupported") {
			// pkcs7's getSignatureAlgorithm: an algorithm or digest it
			// does not know, before any signature is checked.
			return failWrap(ErrUnsupportedAlgorithm, verr, "SignerInfo signatureAlgorithm %s with digest %s",
				p7.Signers[0].DigestEncryptionAlgorithm.Algorithm, p7.Signers[0].DigestAlgorithm.Algorithm)
		}
		return failWrap(ErrBadSignature, verr, "signature does not verify")
	}
	if opts.Roots == nil {
		return nil
	}
	at := opts.At
	if at.IsZero() {
		at = sc.SigningTime
	}
	if at.IsZero() {
		return fail(ErrUntrusted, "no time to judge validity at")
	}
	inter := x509.NewCertPool()
	for _, c := range all {
		inter.AddCert(c)
	}
	usages := opts.KeyUsages
	if usages == nil {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	chains, err := sc.Signer.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     usages,
	})
	if err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return failWrap(ErrExpired, err, "signer chain at %s", at.UTC().Format(time.RFC3339))
		}
		return failWrap(ErrUntrusted, err, "signer chain")
	}
	sc.Chains = chains
	return nil
}

var oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

// acceptECPublicKeySignatureAlgorithm lets a SignerInfo name id-ecPublicKey
// (1.2.840.10045.2.1), the key's algorithm, as its signatureAlgorithm
// instead of ecdsa-with-SHA*: some CMS producers write it, RFC 5753 7.1.3
// lists it, and OpenSSL verifies it. pkcs7 does not, so for an ECDSA signer
// and a SHA-2 digestAlgorithm the in-memory SignerInfo is relabelled with
// the ecdsa-with-SHA* of that digest before verification; the signature
// itself is checked as usual. Anything else naming id-ecPublicKey is
// refused with the real reason (ErrUnsupportedAlgorithm).
func acceptECPublicKeySignatureAlgorithm(p7 *pkcs7.PKCS7, signer *x509.Certificate) error {
	si := &p7.Signers[0]
	if !si.DigestEncryptionAlgorithm.Algorithm.Equal(oidECPublicKey) {
		return nil
	}
	if _, ok := signer.PublicKey.(*ecdsa.PublicKey); !ok {
		return fail(ErrUnsupportedAlgorithm, "SignerInfo signatureAlgorithm id-ecPublicKey, but the signer's key is %s", signer.PublicKeyAlgorithm)
	}
	var sigAlg asn1.ObjectIdentifier
	switch d := si.DigestAlgorithm.Algorithm; {
	case d.Equal(pkcs7.OIDDigestAlgorithmSHA256):
		sigAlg = pkcs7.OIDDigestAlgorithmECDSASHA256
	case d.Equal(pkcs7.OIDDigestAlgorithmSHA384):
		sigAlg = pkcs7.OIDDigestAlgorithmECDSASHA384
	case d.Equal(pkcs7.OIDDigestAlgorithmSHA512):
		sigAlg = pkcs7.OIDDigestAlgorithmECDSASHA512
	default:
		return fail(ErrUnsupportedAlgorithm, "SignerInfo signatureAlgorithm id-ecPublicKey with digest %s (want SHA-256, SHA-384 or SHA-512)", d)
	}
	si.DigestEncryptionAlgorithm = pkix.AlgorithmIdentifier{Algorithm: sigAlg}
	return nil
}

// certParseError classifies a failure to parse a certificate (or a CMS
// carrying one): a key on an elliptic curve crypto/x509 does not implement
// is ErrUnsupportedAlgorithm, the certificate is well formed but its key is
// one Landfall cannot verify with; anything else is ErrMalformed. crypto/x509
// has no typed error for it, so its message is matched (TestUnsupportedCurve
// notices if that changes).
func certParseError(err error, what string) *Error {
	if strings.Contains(err.Error(), "x509: unsupported elliptic curve") {
		return failWrap(ErrUnsupportedAlgorithm, err, "%s: a key on a curve other than P-224, P-256, P-384 and P-521", what)
	}
	return failWrap(ErrMalformed, err, "%s", what)
}

// parsePKCS7 is pkcs7.Parse made safe for untrusted bytes.
func parsePKCS7(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if r := recover(); r != nil {
			p7, err = nil, fmt.Errorf("pkcs7 parser: %v", r)
		}
	}()
	return pkcs7.Parse(der)
}

// eContentType reads ContentInfo.contentType and, for SignedData,
// encapContentInfo.eContentType (RFC 5652 sections 3 and 5.1), tolerating
// BER indefinite lengths, which pkcs7.Parse accepts but does not report.
func eContentType(b []byte) (asn1.ObjectIdentifier, error) {
	bad := func(what string) error { return fail(ErrMalformed, "CMS: %s", what) }
	// ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
	body, ok := enter(b, 0x30)
	if !ok {
		return nil, bad("not a ContentInfo")
	}
	oid, body, ok := readOID(body)
	if !ok {
		return nil, bad("no contentType")
	}
	if !oid.Equal(oidSignedData) {
		return nil, fail(ErrUnsupportedContent, "contentType %s is not SignedData", oid)
	}
	if body, ok = enter(body, 0xa0); !ok {
		return nil, bad("no content")
	}
	// SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo, ... }
	if body, ok = enter(body, 0x30); !ok {
		return nil, bad("not a SignedData")
	}
	for _, tag := range []byte{0x02, 0x31} {
		n, ok := skip(body, tag)
		if !ok {
			return nil, bad("SignedData header")
		}
		body = body[n:]
	}
	if body, ok = enter(body, 0x30); !ok {
		return nil, bad("no encapContentInfo")
	}
	if oid, _, ok = readOID(body); !ok {
		return nil, bad("no eContentType")
	}
	return oid, nil
}

// header parses a BER identifier and length with a one-byte tag. length
// is -1 for the indefinite form.
func header(b []byte) (tag byte, hdr, length int, ok bool) {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return 0, 0, 0, false
	}
	tag, l := b[0], int(b[1])
	switch {
	case l < 0x80:
		return tag, 2, l, l <= len(b)-2
	case l == 0x80:
		return tag, 2, -1, tag&0x20 != 0
	}
	n := l & 0x7f
	if n > 4 || len(b) < 2+n {
		return 0, 0, 0, false
	}
	length = 0
	for _, c := range b[2 : 2+n] {
		length = length<<8 | int(c)
	}
	if length < 0 || length > len(b)-2-n {
		return 0, 0, 0, false
	}
	return tag, 2 + n, length, true
}

// enter returns the contents of the element at b if its tag is want. For
// the indefinite form the contents run to the end of b.
func enter(b []byte, want byte) ([]byte, bool) {
	tag, hdr, length, ok := header(b)
	if !ok || tag != want {
		return nil, false
	}
	if length < 0 {
		return b[hdr:], true
	}
	return b[hdr : hdr+length], true
}

// skip returns the encoded size of the element at b, whose tag must be want
// (0 for any).
func skip(b []byte, want byte) (int, bool) {
	return skipDepth(b, want, 0)
}

func skipDepth(b []byte, want byte, depth int) (int, bool) {
	tag, hdr, length, ok := header(b)
	if !ok || (want != 0 && tag != want) || depth > 32 {
		return 0, false
	}
	if length >= 0 {
		return hdr + length, true
	}
	n := hdr
	for {
		if len(b) < n+2 {
			return 0, false
		}
		if b[n] == 0 && b[n+1] == 0 {
			return n + 2, true
		}
		m, ok := skipDepth(b[n:], 0, depth+1)
		if !ok {
			return 0, false
		}
		n += m
	}
}

func readOID(b []byte) (asn1.ObjectIdentifier, []byte, bool) {
	n, ok := skip(b, 0x06)
	if !ok {
		return nil, nil, false
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(b[:n], &oid); err != nil {
		return nil, nil, false
	}
	return oid, b[n:], true
}
