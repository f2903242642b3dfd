// Package vouchertest builds CMS that pkg/voucher must refuse, the way an
// attacker would, for the tests of pkg/voucher and of the services that
// use it. It is not for production code: nothing it makes is valid.
package vouchertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
)

var (
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
)

// The ASN.1 of RFC 5652 sections 3 and 5, as far as SignedData with one
// SignerInfo identified by issuer and serial number needs it.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, built by hand: encoding/asn1 writes a RawValue as it is
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte `asn1:"explicit,tag:0"`
}

type issuerAndSerialNumber struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}

// signerInfo has no signedAttrs field at all: the signature covers the
// eContent itself (RFC 5652 5.4, "when the field signedAttrs is absent").
type signerInfo struct {
	Version            int
	SID                issuerAndSerialNumber
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

// SignWithoutSignedAttributes returns DER CMS SignedData of content whose
// one SignerInfo carries no signedAttrs: key signs SHA-256 of the content
// directly. It carries cert and then chain. RFC 5652 5.3 forbids this
// whenever eContentType is not id-data; a verifier that accepts it lets a
// signature over some other message stand for a voucher. ECDSA and RSA
// (PKCS #1 v1.5) keys are supported.
func SignWithoutSignedAttributes(content []byte, eContentType asn1.ObjectIdentifier, cert *x509.Certificate, key crypto.Signer, chain ...*x509.Certificate) ([]byte, error) {
	var sigAlg pkix.AlgorithmIdentifier
	switch key.Public().(type) {
	case *ecdsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}
	case *rsa.PublicKey:
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}
	default:
		return nil, errors.New("vouchertest: only ECDSA and RSA keys")
	}
	digest := crypto.SHA256.New()
	digest.Write(content)
	sig, err := key.Sign(rand.Reader, digest.Sum(nil), crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var certs []byte
	for _, c := range append([]*x509.Certificate{cert}, chain...) {
		certs = append(certs, c.Raw...)
	}
	sha256Alg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256}
	version := 1
	if !eContentType.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}) {
		version = 3 // RFC 5652 5.1: eContentType other than id-data
	}
	sd, err := asn1.Marshal(signedData{
		Version:          version,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{sha256Alg},
		EncapContentInfo: encapContentInfo{EContentType: eContentType, EContent: content},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: certs},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, SerialNumber: cert.SerialNumber},
			DigestAlgorithm:    sha256Alg,
			SignatureAlgorithm: sigAlg,
			Signature:          sig,
		}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{ContentType: oidSignedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
}
