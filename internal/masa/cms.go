package masa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"sort"
	"time"
)

// This file is the CMS (RFC 5652) SignedData the MASA reads and writes.
// It is local because pkg/voucher had not landed when the MASA was built;
// when it does, parseSignedRequest and (*VoucherSigner).Sign move onto it.
// Reading is not done with smallstep/pkcs7: its Verify rejects a signature
// whose signing-time attribute lies outside the signer's validity, and the
// RFC 8995 Appendix C pledge request was signed (2021-04-13) before its
// IDevID's notBefore (2021-04-27). The MASA judges validity by its clock.

// Content types for the encapsulated voucher (RFC 8366 section 8.1). The
// MASA accepts both on input and emits the one configured, by default the
// RFC's.
var (
	OIDVoucherContent  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 40} // id-ct-animaJSONVoucher
	OIDData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
)

// VoucherSigner signs vouchers as CMS SignedData with the MASA's key.
type VoucherSigner struct {
	Cert        *x509.Certificate
	Key         crypto.Signer
	Chain       []*x509.Certificate // intermediates to include, may be empty
	ContentType asn1.ObjectIdentifier
}

type cmsAlgorithm struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type cmsIssuerAndSerial struct {
	Issuer asn1.RawValue
	Serial asn1.RawValue
}

type cmsSignerInfo struct {
	Version            int
	SID                cmsIssuerAndSerial
	DigestAlgorithm    cmsAlgorithm
	SignedAttrs        asn1.RawValue
	SignatureAlgorithm cmsAlgorithm
	Signature          []byte
}

type cmsEncapContent struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue
}

type cmsSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo cmsEncapContent
	Certificates     asn1.RawValue
	SignerInfos      asn1.RawValue
}

type cmsContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue
}

func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

func setOf(elems ...[]byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(elems, nil)}
}

func attribute(oid asn1.ObjectIdentifier, value any) ([]byte, error) {
	v, err := asn1.Marshal(value)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue
	}{oid, setOf(v)})
}

// Sign returns content as DER CMS SignedData (RFC 5652 section 5) signed
// at signingTime, carrying the signer's certificate and chain, with the
// signed attributes content-type, signing-time and message-digest.
func (s *VoucherSigner) Sign(content []byte, signingTime time.Time) ([]byte, error) {
	pub, ok := s.Key.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("masa: voucher-signing key must be ECDSA")
	}
	var (
		h              hash.Hash
		hashFn         crypto.Hash
		digestOID, sig asn1.ObjectIdentifier
	)
	if pub.Curve == elliptic.P384() || pub.Curve == elliptic.P521() {
		h, hashFn, digestOID, sig = sha512.New384(), crypto.SHA384, oidSHA384, oidECDSAWithSHA384
	} else {
		h, hashFn, digestOID, sig = sha256.New(), crypto.SHA256, oidSHA256, oidECDSAWithSHA256
	}
	ctype := s.ContentType
	if ctype == nil {
		ctype = OIDVoucherContent
	}
	h.Write(content)
	digest := h.Sum(nil)

	a1, err := attribute(oidContentType, ctype)
	if err != nil {
		return nil, err
	}
	a2, err := attribute(oidSigningTime, signingTime.UTC())
	if err != nil {
		return nil, err
	}
	a3, err := attribute(oidMessageDigest, digest)
	if err != nil {
		return nil, err
	}
	// DER orders a SET OF by the encodings of its elements.
	attrs := [][]byte{a1, a2, a3}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 })
	attrSet := setOf(attrs...)
	toSign, err := asn1.Marshal(attrSet)
	if err != nil {
		return nil, err
	}
	h.Reset()
	h.Write(toSign)
	signature, err := s.Key.Sign(rand.Reader, h.Sum(nil), hashFn)
	if err != nil {
		return nil, fmt.Errorf("masa: sign voucher: %w", err)
	}
	// In SignerInfo the attributes are [0] IMPLICIT.
	signed := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: attrSet.Bytes}
	si, err := asn1.Marshal(cmsSignerInfo{
		Version:            1,
		SID:                cmsIssuerAndSerial{Issuer: asn1.RawValue{FullBytes: s.Cert.RawIssuer}, Serial: serialInteger(s.Cert)},
		DigestAlgorithm:    cmsAlgorithm{Algorithm: digestOID},
		SignedAttrs:        signed,
		SignatureAlgorithm: cmsAlgorithm{Algorithm: sig},
		Signature:          signature,
	})
	if err != nil {
		return nil, err
	}
	digestAlg, err := asn1.Marshal(cmsAlgorithm{Algorithm: digestOID})
	if err != nil {
		return nil, err
	}
	econtent, err := asn1.Marshal(content)
	if err != nil {
		return nil, err
	}
	certs := [][]byte{s.Cert.Raw}
	for _, c := range s.Chain {
		certs = append(certs, c.Raw)
	}
	version := 3 // RFC 5652 5.1: eContentType other than id-data
	if ctype.Equal(OIDData) {
		version = 1
	}
	sd, err := asn1.Marshal(cmsSignedData{
		Version:          version,
		DigestAlgorithms: setOf(digestAlg),
		EncapContentInfo: cmsEncapContent{EContentType: ctype, EContent: explicit0(econtent)},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bytes.Join(certs, nil)},
		SignerInfos:      setOf(si),
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(cmsContentInfo{ContentType: oidSignedData, Content: explicit0(sd)})
}

// serialInteger returns the certificate's serial number as a DER INTEGER.
func serialInteger(c *x509.Certificate) asn1.RawValue {
	b, _ := asn1.Marshal(c.SerialNumber)
	return asn1.RawValue{FullBytes: b}
}
