package masa

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"time"
)

// DomainID returns the domainID of a domain CA certificate as the audit log
// reports it (RFC 8995 section 5.8.2): its subject key identifier, or, when
// it has none, the SHA-1 of its subjectPublicKey (RFC 7093 section 2,
// method 1), base64 encoded. pkg/voucher has no such helper.
func DomainID(cert *x509.Certificate) string {
	if len(cert.SubjectKeyId) > 0 {
		return base64.StdEncoding.EncodeToString(cert.SubjectKeyId)
	}
	var spki struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		sum := sha1.Sum(cert.RawSubjectPublicKeyInfo)
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// rfc3339 formats times as the YANG date-and-time type wants them.
func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
