package voucher

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/smallstep/pkcs7"
)

// Content types of the encapsulated voucher (RFC 8366 section 8.1).
var (
	// OIDAnimaJSONVoucher is id-ct-animaJSONVoucher, the eContentType
	// RFC 8366 assigns to a JSON voucher or voucher-request.
	OIDAnimaJSONVoucher = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 40}
	// OIDData is id-data, which the RFC 8995 examples (and many
	// implementations) use instead.
	OIDData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
)

// Signer produces CMS SignedData (RFC 5652 section 5) over a voucher or a
// voucher-request (RFC 8366 section 8.1).
type Signer struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate // intermediates to carry after Cert, issuer first
	// ContentType is the eContentType; nil means OIDAnimaJSONVoucher.
	ContentType asn1.ObjectIdentifier
	// COSE says where a COSE_Sign1 carries Cert and Chain (cose.go).
	COSE COSEOptions
}

// SignVoucher encodes v to JSON and signs it.
func (s *Signer) SignVoucher(v *Voucher) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	js, _ := v.MarshalJSON()
	return s.Sign(js)
}

// SignVoucherRequest encodes r to JSON and signs it. Validate r for its
// role first.
func (s *Signer) SignVoucherRequest(r *VoucherRequest) ([]byte, error) {
	js, _ := r.MarshalJSON()
	return s.Sign(js)
}

// Sign returns content as DER SignedData with one signer, carrying Cert and
// Chain, with the content-type, message-digest and signing-time signed
// attributes. The digest follows the key: SHA-384 for P-384, SHA-512 for
// P-521, SHA-256 otherwise.
func (s *Signer) Sign(content []byte) ([]byte, error) {
	if s.Cert == nil || s.Key == nil {
		return nil, errors.New("voucher: signer needs a certificate and a key")
	}
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, fmt.Errorf("voucher: sign: %w", err)
	}
	sd.SetDigestAlgorithm(digestFor(s.Key.Public()))
	ct := s.ContentType
	if ct == nil {
		ct = OIDAnimaJSONVoucher
	}
	// NewSignedData always says id-data; AddSigner copies the content type
	// into the signed attribute, so set it before.
	raw := sd.GetSignedData()
	raw.ContentInfo.ContentType = ct
	if !ct.Equal(OIDData) {
		raw.Version = 3 // RFC 5652 5.1: eContentType other than id-data
	}
	// pkcs7's AddSignerChain verifies every link of the chain on every
	// call; a chain is checked once per process instead (chainLinks), and
	// the signer names its certificate's own issuer field, as RFC 5652
	// 10.2.4's issuerAndSerialNumber says.
	if err := checkChainLinks(s.Cert, s.Chain); err != nil {
		return nil, fmt.Errorf("voucher: sign: %w", err)
	}
	if err := sd.AddSigner(s.Cert, s.Key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("voucher: sign: %w", err)
	}
	for _, c := range s.Chain {
		sd.AddCertificate(c)
	}
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("voucher: sign: %w", err)
	}
	return der, nil
}

func digestFor(pub crypto.PublicKey) asn1.ObjectIdentifier {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P384():
			return pkcs7.OIDDigestAlgorithmSHA384
		case elliptic.P521():
			return pkcs7.OIDDigestAlgorithmSHA512
		}
	case *rsa.PublicKey:
		if k.N.BitLen() > 3072 {
			return pkcs7.OIDDigestAlgorithmSHA384
		}
	}
	return pkcs7.OIDDigestAlgorithmSHA256
}
