package masa

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"math/big"
)

// signedRequest is a CMS SignedData whose one signature verified: the
// content, the signer's certificate and every certificate the CMS carried.
type signedRequest struct {
	ContentType asn1.ObjectIdentifier
	Content     []byte
	Signer      *x509.Certificate
	Certs       []*x509.Certificate
}

// errSignature marks a CMS that parsed but whose signature does not verify.
type errSignature struct{ error }

func (e errSignature) Unwrap() error { return e.error }

// maxCMSCerts bounds the certificates one request may carry.
const maxCMSCerts = 16

// elements splits the contents of a constructed DER value into its
// elements.
func elements(b []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
		if len(out) > 64 {
			return nil, errors.New("too many elements")
		}
	}
	return out, nil
}

func isUniversal(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag
}

func isContext(v asn1.RawValue, tag int) bool {
	return v.Class == asn1.ClassContextSpecific && v.Tag == tag && v.IsCompound
}

// parseSignedRequest parses DER CMS SignedData (RFC 5652 section 5) with
// one signer and checks that signature: the message digest over the
// content, the content-type attribute, and the signature over the signed
// attributes with the signer's certificate from the CMS. It checks no
// certificate chain and no validity period: callers choose the trust
// anchor and the time.
func parseSignedRequest(der []byte) (*signedRequest, error) {
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("not DER CMS: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("trailing bytes after CMS")
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, errors.New("CMS is not SignedData")
	}
	// content [0] EXPLICIT SignedData
	inner, err := elements(ci.Content.Bytes)
	if !isContext(ci.Content, 0) || err != nil || len(inner) != 1 || !isUniversal(inner[0], asn1.TagSequence) {
		return nil, errors.New("SignedData is not a SEQUENCE")
	}
	els, err := elements(inner[0].Bytes)
	if err != nil {
		return nil, fmt.Errorf("SignedData: %w", err)
	}
	if len(els) < 4 || !isUniversal(els[0], asn1.TagInteger) || !isUniversal(els[1], asn1.TagSet) ||
		!isUniversal(els[2], asn1.TagSequence) || !isUniversal(els[len(els)-1], asn1.TagSet) {
		return nil, errors.New("SignedData structure is malformed")
	}
	// EncapsulatedContentInfo: eContentType, [0] EXPLICIT OCTET STRING.
	var encap struct {
		EContentType asn1.ObjectIdentifier
		EContent     []byte `asn1:"explicit,tag:0"`
	}
	if rest, err := asn1.Unmarshal(els[2].FullBytes, &encap); err != nil || len(rest) > 0 {
		return nil, errors.New("encapsulated content is malformed or detached")
	}
	if len(encap.EContent) == 0 {
		return nil, errors.New("CMS has no content")
	}
	sr := &signedRequest{ContentType: encap.EContentType, Content: encap.EContent}
	for _, e := range els[3 : len(els)-1] {
		switch {
		case isContext(e, 0):
			certs, err := x509.ParseCertificates(e.Bytes)
			if err != nil {
				return nil, fmt.Errorf("CMS certificates: %w", err)
			}
			if len(certs) > maxCMSCerts {
				return nil, fmt.Errorf("CMS carries %d certificates; at most %d", len(certs), maxCMSCerts)
			}
			sr.Certs = certs
		case isContext(e, 1): // CRLs: not used
		default:
			return nil, errors.New("SignedData has an unexpected element")
		}
	}
	signers, err := elements(els[len(els)-1].Bytes)
	if err != nil {
		return nil, fmt.Errorf("signerInfos: %w", err)
	}
	if len(signers) != 1 {
		return nil, fmt.Errorf("CMS has %d signers, want 1", len(signers))
	}
	if err := sr.verifySigner(signers[0]); err != nil {
		return nil, err
	}
	return sr, nil
}

var (
	oidSHA512          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidECPublicKey     = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// signatureAlgorithm maps a SignerInfo's digest and signature algorithm
// identifiers to the x509 algorithm that checks it.
func signatureAlgorithm(digest, sig asn1.ObjectIdentifier) (x509.SignatureAlgorithm, func() hash.Hash, error) {
	var h func() hash.Hash
	switch {
	case digest.Equal(oidSHA256):
		h = sha256.New
	case digest.Equal(oidSHA384):
		h = sha512.New384
	case digest.Equal(oidSHA512):
		h = sha512.New
	default:
		return 0, nil, fmt.Errorf("unsupported digest algorithm %v", digest)
	}
	switch {
	case sig.Equal(oidEd25519):
		return x509.PureEd25519, h, nil
	case sig.Equal(oidECDSAWithSHA256), sig.Equal(oidECDSAWithSHA384), sig.Equal(oidECDSAWithSHA512), sig.Equal(oidECPublicKey):
		switch {
		case digest.Equal(oidSHA256):
			return x509.ECDSAWithSHA256, h, nil
		case digest.Equal(oidSHA384):
			return x509.ECDSAWithSHA384, h, nil
		default:
			return x509.ECDSAWithSHA512, h, nil
		}
	case sig.Equal(oidRSAEncryption), sig.Equal(oidSHA256WithRSA), sig.Equal(oidSHA384WithRSA), sig.Equal(oidSHA512WithRSA):
		switch {
		case digest.Equal(oidSHA256):
			return x509.SHA256WithRSA, h, nil
		case digest.Equal(oidSHA384):
			return x509.SHA384WithRSA, h, nil
		default:
			return x509.SHA512WithRSA, h, nil
		}
	}
	return 0, nil, fmt.Errorf("unsupported signature algorithm %v", sig)
}

// verifySigner checks one SignerInfo (RFC 5652 section 5.3, 5.4, 5.6).
func (sr *signedRequest) verifySigner(si asn1.RawValue) error {
	if !isUniversal(si, asn1.TagSequence) {
		return errors.New("SignerInfo is not a SEQUENCE")
	}
	f, err := elements(si.Bytes)
	if err != nil || len(f) < 5 {
		return errors.New("SignerInfo is malformed")
	}
	// version, sid, digestAlgorithm, [0] signedAttrs?, signatureAlgorithm, signature, [1]?
	sid, digestAlg := f[1], f[2]
	i := 3
	var signedAttrs *asn1.RawValue
	if isContext(f[i], 0) {
		signedAttrs = &f[i]
		i++
	}
	if len(f) < i+2 {
		return errors.New("SignerInfo is malformed")
	}
	sigAlg, sigVal := f[i], f[i+1]
	var dAlg, sAlg struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(digestAlg.FullBytes, &dAlg); err != nil {
		return errors.New("SignerInfo digestAlgorithm is malformed")
	}
	if _, err := asn1.Unmarshal(sigAlg.FullBytes, &sAlg); err != nil {
		return errors.New("SignerInfo signatureAlgorithm is malformed")
	}
	if !isUniversal(sigVal, asn1.TagOctetString) {
		return errors.New("SignerInfo signature is not an OCTET STRING")
	}
	algo, newHash, err := signatureAlgorithm(dAlg.Algorithm, sAlg.Algorithm)
	if err != nil {
		return err
	}
	sr.Signer = sr.findSigner(sid)
	if sr.Signer == nil {
		return errors.New("CMS does not carry the signer's certificate")
	}
	signed := sr.Content
	if signedAttrs != nil {
		attrs, err := elements(signedAttrs.Bytes)
		if err != nil {
			return errors.New("signed attributes are malformed")
		}
		var digest []byte
		var ctype asn1.ObjectIdentifier
		for _, a := range attrs {
			var attr struct {
				Type   asn1.ObjectIdentifier
				Values asn1.RawValue `asn1:"set"`
			}
			if _, err := asn1.Unmarshal(a.FullBytes, &attr); err != nil {
				return errors.New("signed attribute is malformed")
			}
			switch {
			case attr.Type.Equal(oidMessageDigest):
				if _, err := asn1.Unmarshal(attr.Values.Bytes, &digest); err != nil {
					return errors.New("message-digest attribute is malformed")
				}
			case attr.Type.Equal(oidContentType):
				if _, err := asn1.Unmarshal(attr.Values.Bytes, &ctype); err != nil {
					return errors.New("content-type attribute is malformed")
				}
			}
		}
		if digest == nil || ctype == nil {
			return errors.New("signed attributes lack message-digest or content-type")
		}
		if !ctype.Equal(sr.ContentType) {
			return errSignature{errors.New("content-type attribute differs from eContentType")}
		}
		h := newHash()
		h.Write(sr.Content)
		if subtle.ConstantTimeCompare(h.Sum(nil), digest) != 1 {
			return errSignature{errors.New("message digest does not match the content")}
		}
		// RFC 5652 5.4: the signature covers the DER of the SET OF, with
		// the SET tag in place of the [0] IMPLICIT tag.
		signed = append([]byte{0x31}, signedAttrs.FullBytes[1:]...)
	}
	if err := sr.Signer.CheckSignature(algo, signed, sigVal.Bytes); err != nil {
		return errSignature{err}
	}
	return nil
}

// findSigner returns the CMS certificate a SignerIdentifier names.
func (sr *signedRequest) findSigner(sid asn1.RawValue) *x509.Certificate {
	if isContext(sid, 0) || (sid.Class == asn1.ClassContextSpecific && sid.Tag == 0) {
		for _, c := range sr.Certs {
			if bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c
			}
		}
		return nil
	}
	var ias struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil {
		return nil
	}
	for _, c := range sr.Certs {
		if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
			return c
		}
	}
	return nil
}
