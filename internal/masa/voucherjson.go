package masa

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Voucher assertions (RFC 8366 section 5.3).
const (
	AssertionVerified  = "verified"
	AssertionLogged    = "logged"
	AssertionProximity = "proximity"
)

// voucherRequest is the body of an RFC 8995 section 3 voucher-request, as
// the registrar sends it (RFC 8995 5.5) and, inside
// prior-signed-voucher-request, as the pledge sent it (RFC 8995 5.2).
type voucherRequest struct {
	Assertion                 string  `json:"assertion,omitempty"`
	CreatedOn                 string  `json:"created-on,omitempty"`
	ExpiresOn                 string  `json:"expires-on,omitempty"`
	SerialNumber              string  `json:"serial-number"`
	IDevIDIssuer              []byte  `json:"idevid-issuer,omitempty"`
	PinnedDomainCert          []byte  `json:"pinned-domain-cert,omitempty"`
	Nonce                     *string `json:"nonce,omitempty"`
	LastRenewalDate           string  `json:"last-renewal-date,omitempty"`
	PriorSignedVoucherRequest []byte  `json:"prior-signed-voucher-request,omitempty"`
	ProximityRegistrarCert    []byte  `json:"proximity-registrar-cert,omitempty"`
	ProximityRegistrarSPKI    []byte  `json:"proximity-registrar-pubk,omitempty"`
}

type voucherRequestEnvelope struct {
	VoucherRequest *voucherRequest `json:"ietf-voucher-request:voucher"`
}

// decodeVoucherRequest parses voucher-request JSON (RFC 8995 section 3.4).
func decodeVoucherRequest(b []byte) (*voucherRequest, error) {
	var env voucherRequestEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("voucher-request JSON: %w", err)
	}
	if env.VoucherRequest == nil {
		return nil, errors.New(`voucher-request has no "ietf-voucher-request:voucher" object`)
	}
	vr := env.VoucherRequest
	if vr.Nonce != nil && *vr.Nonce == "" {
		vr.Nonce = nil // an empty nonce is no nonce
	}
	if vr.SerialNumber == "" {
		return nil, errors.New("voucher-request has no serial-number")
	}
	if vr.CreatedOn != "" {
		if _, err := time.Parse(time.RFC3339Nano, vr.CreatedOn); err != nil {
			return nil, fmt.Errorf("voucher-request created-on: %w", err)
		}
	}
	return vr, nil
}

// voucher is an RFC 8366 voucher (section 5.3, module ietf-voucher).
type voucher struct {
	CreatedOn                  string  `json:"created-on"`
	ExpiresOn                  string  `json:"expires-on,omitempty"`
	Assertion                  string  `json:"assertion"`
	SerialNumber               string  `json:"serial-number"`
	PinnedDomainCert           []byte  `json:"pinned-domain-cert"`
	DomainCertRevocationChecks bool    `json:"domain-cert-revocation-checks"`
	Nonce                      *string `json:"nonce,omitempty"`
}

type voucherEnvelope struct {
	Voucher voucher `json:"ietf-voucher:voucher"`
}

// rfc3339 formats times as the YANG date-and-time type wants them.
func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// DomainID returns the domainID of a domain CA certificate as the audit log
// reports it (RFC 8995 section 5.8.2): its subject key identifier, or, when
// it has none, the SHA-1 of its subjectPublicKey (RFC 7093 section 2,
// method 1), base64 encoded.
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
