package enroll

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// KeyType names a public key algorithm and size a CSR may use.
type KeyType string

// Key types a CSRPolicy can allow. RSA types match the exact modulus size.
const (
	KeyECP256  KeyType = "EC-P256"
	KeyECP384  KeyType = "EC-P384"
	KeyECP521  KeyType = "EC-P521"
	KeyRSA2048 KeyType = "RSA-2048"
	KeyRSA3072 KeyType = "RSA-3072"
	KeyRSA4096 KeyType = "RSA-4096"
	KeyEd25519 KeyType = "Ed25519"
)

type keyInfo struct {
	alg   asn1.ObjectIdentifier // SubjectPublicKeyInfo algorithm
	curve asn1.ObjectIdentifier // named curve, EC only
	sig   asn1.ObjectIdentifier // signature algorithm advertised in csrattrs
}

var keyTypeInfo = map[KeyType]keyInfo{
	KeyECP256:  {OIDECPublicKey, OIDCurveP256, OIDECDSAWithSHA256},
	KeyECP384:  {OIDECPublicKey, OIDCurveP384, OIDECDSAWithSHA384},
	KeyECP521:  {OIDECPublicKey, OIDCurveP521, OIDECDSAWithSHA512},
	KeyRSA2048: {OIDRSAEncryption, nil, OIDSHA256WithRSA},
	KeyRSA3072: {OIDRSAEncryption, nil, OIDSHA256WithRSA},
	KeyRSA4096: {OIDRSAEncryption, nil, OIDSHA256WithRSA},
	KeyEd25519: {OIDEd25519, nil, nil},
}

// KeyTypeOf returns the KeyType of pub, or an error for anything else.
func KeyTypeOf(pub any) (KeyType, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KeyECP256, nil
		case elliptic.P384():
			return KeyECP384, nil
		case elliptic.P521():
			return KeyECP521, nil
		}
		return "", fmt.Errorf("unsupported curve %s", k.Curve.Params().Name)
	case *rsa.PublicKey:
		return KeyType(fmt.Sprintf("RSA-%d", k.N.BitLen())), nil
	case ed25519.PublicKey:
		return KeyEd25519, nil
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

// DefaultKeyTypes are allowed when a CSRPolicy lists none; the first is the
// one csrattrs advertises.
var DefaultKeyTypes = []KeyType{KeyECP256, KeyECP384}

// defaultAllowedExtensions are the extension requests every CSR may carry:
// names, key usages, a leaf basicConstraints and a key identifier.
var defaultAllowedExtensions = []asn1.ObjectIdentifier{
	OIDExtSubjectAltName, OIDExtKeyUsage, OIDExtExtendedKeyUsage,
	OIDExtBasicConstraints, OIDExtSubjectKeyID,
}

// CSRPolicy is what the registrar requires of a CSR, built from
// configuration. It both produces the csrattrs response (CSRAttrs, RFC 7030
// section 4.5) and checks each CSR against the same rules (Check), so that
// what the pledge is told and what it is held to cannot drift apart.
type CSRPolicy struct {
	// RequireSerialNumber requires the CSR subject to carry serialNumber
	// (2.5.4.5) equal to the one the NamePolicy gives the certificate: the
	// serial number verified from the IDevID on simpleenroll, the renewed
	// certificate's on simplereenroll (RFC 8995 section 5.9.2 and 2.3.1).
	RequireSerialNumber bool
	// KeyTypes the CSR's key may have; the first is advertised. Empty means
	// DefaultKeyTypes.
	KeyTypes []KeyType
	// RequestedExtensions are extension OIDs advertised as bare OIDs; they
	// are also allowed in the CSR.
	RequestedExtensions []asn1.ObjectIdentifier
	// AllowedExtensions adds to the extension requests a CSR may carry
	// beyond subjectAltName, keyUsage, extKeyUsage, basicConstraints
	// (cA false only) and subjectKeyIdentifier.
	AllowedExtensions []asn1.ObjectIdentifier
	// RequireChannelBinding requires the CSR's challengePassword to be the
	// base64 of the session's tls-exporter value (RFC 9266), linking the
	// CSR to the authenticated TLS session (RFC 7030 section 3.5, with
	// tls-exporter replacing tls-unique for TLS 1.3).
	RequireChannelBinding bool
}

func (p *CSRPolicy) keyTypes() []KeyType {
	if p == nil || len(p.KeyTypes) == 0 {
		return DefaultKeyTypes
	}
	return p.KeyTypes
}

// Check verifies csr against the policy: its self-signature, key type and
// size, subject serialNumber equal to serial (the one the certificate will carry),
// requested extensions, and the channel binding of peer. It returns an
// *Error: 400 for a malformed or badly signed CSR, 403 for a well-formed CSR
// the policy refuses.
//
// RFC 7030 section 3.5 places the channel binding in challengePassword;
// a missing or wrong value is a 403 (the CSR may have been relayed).
func (p *CSRPolicy) Check(csr *x509.CertificateRequest, serial string, peer Peer) error {
	if err := csr.CheckSignature(); err != nil {
		return newError(http.StatusBadRequest, err, "CSR signature invalid")
	}
	return p.checkVerified(csr, serial, peer)
}

// checkVerified is Check for a CSR whose signature ParseCSR has verified.
func (p *CSRPolicy) checkVerified(csr *x509.CertificateRequest, serial string, peer Peer) error {
	if p == nil {
		p = &CSRPolicy{}
	}
	kt, err := KeyTypeOf(csr.PublicKey)
	if err != nil {
		return newError(http.StatusForbidden, err, "CSR key type not allowed: %v", err)
	}
	allowed := false
	for _, k := range p.keyTypes() {
		if k == kt {
			allowed = true
			break
		}
	}
	if !allowed {
		return newError(http.StatusForbidden, nil, "CSR key type %s not allowed", kt)
	}
	if p.RequireSerialNumber {
		if serial == "" {
			return newError(http.StatusForbidden, nil, "the certificate's names carry no subject serialNumber")
		}
		if csr.Subject.SerialNumber == "" {
			return newError(http.StatusForbidden, nil, "CSR subject lacks serialNumber")
		}
		if csr.Subject.SerialNumber != serial {
			return newError(http.StatusForbidden, nil, "CSR serialNumber %q does not match the authenticated device", csr.Subject.SerialNumber)
		}
	}
	if err := p.checkExtensions(csr); err != nil {
		return err
	}
	if p.RequireChannelBinding {
		if err := checkChannelBinding(csr, peer.ChannelBinding); err != nil {
			return err
		}
	}
	return nil
}

func (p *CSRPolicy) checkExtensions(csr *x509.CertificateRequest) error {
	for _, ext := range csr.Extensions {
		ok := false
		for _, lists := range [][]asn1.ObjectIdentifier{defaultAllowedExtensions, p.AllowedExtensions, p.RequestedExtensions} {
			for _, oid := range lists {
				if ext.Id.Equal(oid) {
					ok = true
				}
			}
		}
		if !ok {
			return newError(http.StatusForbidden, nil, "CSR requests disallowed extension %s", ext.Id)
		}
		if ext.Id.Equal(OIDExtBasicConstraints) {
			var bc struct {
				IsCA       bool `asn1:"optional"`
				MaxPathLen int  `asn1:"optional,default:-1"`
			}
			if _, err := asn1.Unmarshal(ext.Value, &bc); err != nil {
				return newError(http.StatusBadRequest, err, "CSR basicConstraints malformed")
			}
			if bc.IsCA {
				return newError(http.StatusForbidden, nil, "CSR requests a CA certificate")
			}
		}
	}
	return nil
}

// checkChannelBinding compares the CSR's challengePassword with the base64
// of the session's tls-exporter value in constant time.
func checkChannelBinding(csr *x509.CertificateRequest, binding []byte) error {
	if len(binding) == 0 {
		return newError(http.StatusForbidden, nil, "channel binding required but the session has none (TLS 1.3 required)")
	}
	pw, ok, err := csrChallengePassword(csr)
	if err != nil {
		return newError(http.StatusBadRequest, err, "CSR attributes malformed")
	}
	if !ok {
		return newError(http.StatusForbidden, nil, "CSR lacks the channel binding (challengePassword)")
	}
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(pw))
	if err != nil || subtle.ConstantTimeCompare(got, binding) != 1 {
		return newError(http.StatusForbidden, nil, "CSR channel binding does not match this session")
	}
	return nil
}

// ChannelBindingPassword returns the challengePassword a client puts in its
// CSR to prove the CSR was made for this session: base64 of the tls-exporter
// value (RFC 7030 section 3.5 with RFC 9266).
func ChannelBindingPassword(binding []byte) string {
	return base64.StdEncoding.EncodeToString(binding)
}
