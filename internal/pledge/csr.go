package pledge

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/landfall-io/landfall/pkg/enroll"
)

// newCSR makes the PKCS#10 request of RFC 8995 5.9.1: the serial number
// in the subject, and, when the registrar's csrattrs ask for it, the
// session's channel binding as challengePassword (RFC 7030 3.5, RFC 9266).
func newCSR(key *ecdsa.PrivateKey, serial string, attrs []enroll.CSRAttr, binding []byte) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{SerialNumber: serial, CommonName: serial},
	}, key)
	if err != nil {
		return nil, err
	}
	for _, a := range attrs {
		if a.OID.Equal(enroll.OIDChallengePassword) {
			if len(binding) == 0 {
				return nil, errors.New("registrar asks for channel binding, but the session has none")
			}
			return withChallengePassword(der, enroll.ChannelBindingPassword(binding), key)
		}
	}
	return der, nil
}

// The ASN.1 of RFC 2986, just deep enough to add an attribute.
type certificationRequest struct {
	Info      asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

type certificationRequestInfo struct {
	Version    int
	Subject    asn1.RawValue
	PublicKey  asn1.RawValue
	Attributes []asn1.RawValue `asn1:"tag:0"`
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

var oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}

// withChallengePassword re-signs a CSR with a challengePassword attribute
// (a UTF8String, PKCS#9) added; Go's x509 cannot write one.
func withChallengePassword(der []byte, password string, key *ecdsa.PrivateKey) ([]byte, error) {
	var req certificationRequest
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		return nil, err
	}
	var info certificationRequestInfo
	if _, err := asn1.UnmarshalWithParams(req.Info.FullBytes, &info, ""); err != nil {
		return nil, fmt.Errorf("CSR info: %w", err)
	}
	val, err := asn1.MarshalWithParams(password, "utf8")
	if err != nil {
		return nil, err
	}
	attr, err := asn1.Marshal(attribute{Type: enroll.OIDChallengePassword, Values: []asn1.RawValue{{FullBytes: val}}})
	if err != nil {
		return nil, err
	}
	info.Attributes = append(info.Attributes, asn1.RawValue{FullBytes: attr})
	tbs, err := asn1.Marshal(info)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(tbs)
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	out, err := asn1.Marshal(certificationRequest{
		Info:      asn1.RawValue{FullBytes: tbs},
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256},
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(out)
	if err != nil {
		return nil, err
	}
	return out, csr.CheckSignature()
}
