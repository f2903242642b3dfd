package voucher

import (
	"bytes"
	"crypto/sha1" // RFC 5280 4.2.1.2 method 1, which rfc8366bis names
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// This file is the idevid-issuer leaf: how the registrar derives it from
// an IDevID (rfc8366bis section 5.1, "Updates to the use of
// idevid-issuer") and which of its encodings in the wild Landfall accepts
// (section 5.3, "Clarifications on the format of idevid-issuer").
//
// Four encodings have been written for the same IDevID:
//
//   - RFC 8995 5.5 calls the leaf "the Issuer value from the pledge IDevID
//     certificate": the DER issuer Name (erratum 7263 is about this).
//   - RFC 8366's YANG calls it "the Authority Key Identifier OCTET STRING":
//     read by some as the keyIdentifier's octets alone.
//   - Landfall before rfc8366bis, and some others: the extnValue's
//     contents, the DER AuthorityKeyIdentifier SEQUENCE (30 16 80 14 ...).
//   - rfc8366bis: "the 'extnValue' OCTET STRING is to be included", and
//     its CBOR example shows h'04183016...': the OCTET STRING itself,
//     tag and length, around that SEQUENCE. The examples of
//     draft-ietf-anima-constrained-voucher and draft-ietf-anima-jws-voucher
//     are written so too.
//
// Landfall emits the last, the current draft's, and accepts all four.

var oidAuthorityKeyID = asn1.ObjectIdentifier{2, 5, 29, 35}

// IDevIDIssuer returns the idevid-issuer leaf for idevid as rfc8366bis
// says a registrar MUST compute it, "in the given order": (1) if the IDevID
// has an Authority Key Identifier, its full extnValue OCTET STRING; (2)
// otherwise the same structure, an AuthorityKeyIdentifier whose
// keyIdentifier is the SHA-1 of the IDevID's own subjectPublicKey (RFC
// 5280 4.2.1.2 method 1), in an OCTET STRING. Both are DER:
// 04 len 30 len 80 len keyIdentifier.
func IDevIDIssuer(idevid *x509.Certificate) ([]byte, error) {
	for _, ext := range idevid.Extensions {
		if ext.Id.Equal(oidAuthorityKeyID) {
			return asn1.Marshal(ext.Value)
		}
	}
	kid, err := keyIDMethod1(idevid)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(akiSequence(kid))
}

// keyIDMethod1 is RFC 5280 4.2.1.2 method 1: the SHA-1 of the BIT STRING
// subjectPublicKey (its value, without tag, length and unused-bits octet).
func keyIDMethod1(cert *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("voucher: IDevID SubjectPublicKeyInfo: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// akiSequence is the DER AuthorityKeyIdentifier holding only a
// keyIdentifier ([0] IMPLICIT OCTET STRING), what IEEE 802.1AR expects.
func akiSequence(kid []byte) []byte {
	inner, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: kid})
	seq, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: inner})
	return seq
}

// issuerForm is one idevid-issuer value brought to a comparable form: the
// AuthorityKeyIdentifier SEQUENCE, or an issuer Name.
type issuerForm struct {
	aki  []byte
	name []byte
}

// readIDevIDIssuer recognizes which of the four encodings b is (see the
// top of this file).
func readIDevIDIssuer(b []byte) issuerForm {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(b, &v)
	whole := err == nil && len(rest) == 0
	switch {
	case whole && v.Class == asn1.ClassUniversal && v.Tag == asn1.TagOctetString && isAKI(v.Bytes):
		return issuerForm{aki: v.Bytes} // rfc8366bis: the extnValue OCTET STRING
	case whole && isAKI(b):
		return issuerForm{aki: b} // the extnValue's contents
	case whole && isName(b):
		return issuerForm{name: b} // RFC 8995: the issuer Name
	}
	return issuerForm{aki: akiSequence(b)} // the bare keyIdentifier
}

func isAKI(b []byte) bool {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(b, &seq); err != nil || len(rest) > 0 || seq.Tag != asn1.TagSequence || seq.Class != asn1.ClassUniversal {
		return false
	}
	var first asn1.RawValue
	_, err := asn1.Unmarshal(seq.Bytes, &first)
	return err == nil && first.Class == asn1.ClassContextSpecific && first.Tag <= 2
}

func isName(b []byte) bool {
	var rdns pkix.RDNSequence
	rest, err := asn1.Unmarshal(b, &rdns)
	return err == nil && len(rest) == 0 && len(rdns) > 0
}

// sameIDevIDIssuer reports whether two idevid-issuer values, each in any
// of the encodings Landfall accepts, name the same issuer.
func sameIDevIDIssuer(want, got []byte) bool {
	if bytes.Equal(want, got) {
		return true
	}
	w, g := readIDevIDIssuer(want), readIDevIDIssuer(got)
	return (w.aki != nil && bytes.Equal(w.aki, g.aki)) || (w.name != nil && bytes.Equal(w.name, g.name))
}

// IDevIDIssuerMatches reports whether got, an idevid-issuer as some
// registrar or MASA wrote it, designates idevid: what IDevIDIssuer
// computes, in any of the four encodings, or the RFC 8995 reading, its
// issuer Name.
func IDevIDIssuerMatches(idevid *x509.Certificate, got []byte) bool {
	g := readIDevIDIssuer(got)
	if g.name != nil {
		return bytes.Equal(g.name, idevid.RawIssuer)
	}
	want, err := IDevIDIssuer(idevid)
	return err == nil && sameIDevIDIssuer(want, got)
}
