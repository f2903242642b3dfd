package voucher

import (
	"encoding/json"
	"time"
)

// Assertion is the voucher's statement about how ownership was established
// (RFC 8366 section 5.3; agent-proximity from rfc8366bis for BRSKI-PRM).
type Assertion string

// The assertion enumeration.
const (
	AssertionVerified       Assertion = "verified"
	AssertionLogged         Assertion = "logged"
	AssertionProximity      Assertion = "proximity"
	AssertionAgentProximity Assertion = "agent-proximity"
)

// Known reports whether a is a value of the enumeration.
func (a Assertion) Known() bool {
	switch a {
	case AssertionVerified, AssertionLogged, AssertionProximity, AssertionAgentProximity:
		return true
	}
	return false
}

// Artifact holds the leaves of the voucher-artifact grouping that the
// voucher (RFC 8366) and the voucher-request (RFC 8995 section 3.4) share.
// A zero time, a nil slice, a nil pointer or an empty string is an absent
// leaf.
type Artifact struct {
	CreatedOn    time.Time // created-on
	ExpiresOn    time.Time // expires-on
	Assertion    Assertion // assertion
	SerialNumber string    // serial-number
	// IDevIDIssuer is idevid-issuer: the whole extnValue of the IDevID's
	// Authority Key Identifier extension (rfc8366bis).
	IDevIDIssuer []byte
	// PinnedDomainCert is pinned-domain-cert, a DER certificate.
	PinnedDomainCert []byte
	// PinnedDomainPubk is pinned-domain-pubk, a DER SubjectPublicKeyInfo.
	PinnedDomainPubk []byte
	// PinnedDomainPubkSHA256 is pinned-domain-pubk-sha256, the SHA-256 of
	// a DER SubjectPublicKeyInfo.
	PinnedDomainPubkSHA256     []byte
	DomainCertRevocationChecks *bool // domain-cert-revocation-checks
	// Nonce is nonce. YANG types it binary, but implementations disagree
	// on the alphabet (the RFC 8995 examples are base64url), so it is kept
	// and compared as the opaque string it travels as.
	Nonce           string
	LastRenewalDate time.Time // last-renewal-date

	// The leaves rfc8366bis adds to the grouping (section 4, "Detailed
	// changes since RFC8366").

	// ESTDomain is est-domain (BRSKI-CLOUD): the URI at which the pledge
	// continues enrollment; an inet:uri.
	ESTDomain string
	// AdditionalConfigurationURL is additional-configuration-url
	// (BRSKI-CLOUD): where the pledge fetches manufacturer-specific
	// configuration; an inet:uri.
	AdditionalConfigurationURL string
	// ManufacturerProprietary is manufacturer-proprietary: bytes the
	// manufacturer's MASA and pledge agree on, opaque here.
	ManufacturerProprietary []byte
	// Extensions is the extensions leaf-list: the names of the extension
	// modules the document uses (rfc8366bis "Voucher Extensions").
	Extensions []string
	// ExtensionData holds each used extension's sub-map, by extension
	// name: the JSON member "extension:<name>", kept as received. Every
	// key must be listed in Extensions.
	ExtensionData map[string]json.RawMessage
}

// Voucher is the ietf-voucher:voucher container: the MASA's signed
// statement that a pledge may trust a domain (RFC 8366).
type Voucher struct {
	Artifact
}

// VoucherRequest is the ietf-voucher-request:voucher container of RFC 8995
// section 3.4: the voucher grouping with every leaf optional, plus four
// leaves of its own (and the pubk variants of rfc8366bis).
type VoucherRequest struct {
	Artifact
	// PriorSignedVoucherRequest is prior-signed-voucher-request: the
	// pledge's CMS voucher-request, byte for byte, in a registrar request.
	PriorSignedVoucherRequest []byte
	// ProximityRegistrarCert is proximity-registrar-cert: the DER
	// certificate the registrar presented to the pledge.
	ProximityRegistrarCert       []byte
	ProximityRegistrarPubk       []byte // proximity-registrar-pubk, DER SubjectPublicKeyInfo
	ProximityRegistrarPubkSHA256 []byte // proximity-registrar-pubk-sha256

	// The BRSKI-PRM leaves (draft-ietf-anima-brski-prm, in rfc8366bis's
	// module).

	// AgentProvidedProximityRegistrarCert is
	// agent-provided-proximity-registrar-cert: the registrar's TLS
	// certificate as the registrar-agent handed it to the pledge, the
	// agent-proximity assertion's counterpart of proximity-registrar-cert.
	AgentProvidedProximityRegistrarCert []byte
	// AgentSignCert is agent-sign-cert, the DER certificate that verifies
	// agent-signed-data.
	AgentSignCert []byte
	// AgentSignedData is agent-signed-data, the registrar-agent's signed
	// artifact (its encoding is BRSKI-PRM's), opaque here.
	AgentSignedData []byte
}

// The top-level member names of the two YANG-JSON documents.
const (
	voucherMember        = "ietf-voucher:voucher"
	voucherRequestMember = "ietf-voucher-request:voucher"
)
