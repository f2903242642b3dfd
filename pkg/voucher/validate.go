package voucher

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
)

// This file says which leaves each of the three documents must and must
// not hold.

// Validate checks v as a voucher (RFC 8366 section 5.3, rfc8366bis):
// created-on, assertion and serial-number are mandatory, and at least one
// of the pinning leaves is present. rfc8366bis commented the pinning
// choice out of its module: several of pinned-domain-cert,
// pinned-domain-pubk and pinned-domain-pubk-sha256 together are legal,
// and the pledge picks one (CheckVoucher). Each must be what it says: a
// certificate, a SubjectPublicKeyInfo, a SHA-256 digest. expires-on may
// not precede created-on, and last-renewal-date needs expires-on.
func (v *Voucher) Validate() error {
	a := &v.Artifact
	if a.Assertion == "" {
		return fail(ErrMissingLeaf, "%s", leafAssertion)
	}
	if err := a.requireCommon(); err != nil {
		return err
	}
	if a.CreatedOn.IsZero() {
		return fail(ErrMissingLeaf, "%s", leafCreatedOn)
	}
	if countSet(a.PinnedDomainCert, a.PinnedDomainPubk, a.PinnedDomainPubkSHA256) == 0 {
		return fail(ErrMissingLeaf, "one of %s, %s, %s", leafPinnedDomainCert, leafPinnedDomainPubk, leafPinnedDomainPubkSHA256)
	}
	if err := checkKeyLeaves(leafPinnedDomainCert, a.PinnedDomainCert, leafPinnedDomainPubk, a.PinnedDomainPubk, leafPinnedDomainPubkSHA256, a.PinnedDomainPubkSHA256); err != nil {
		return err
	}
	if !a.ExpiresOn.IsZero() && a.ExpiresOn.Before(a.CreatedOn) {
		return fail(ErrMalformed, "%s precedes %s", leafExpiresOn, leafCreatedOn)
	}
	if !a.LastRenewalDate.IsZero() && a.ExpiresOn.IsZero() {
		// rfc8366bis: last-renewal-date bounds the renewal of an expiring voucher.
		return fail(ErrForbiddenLeaf, "%s without %s", leafLastRenewalDate, leafExpiresOn)
	}
	return nil
}

// checkKeyLeaves checks a certificate leaf, a SubjectPublicKeyInfo leaf
// and a SHA-256 leaf, each if present.
func checkKeyLeaves(certName string, cert []byte, pubkName string, pubk []byte, sumName string, sum []byte) error {
	if cert != nil {
		if _, err := x509.ParseCertificate(cert); err != nil {
			return failWrap(ErrMalformed, err, "%s", certName)
		}
	}
	if pubk != nil {
		if _, err := x509.ParsePKIXPublicKey(pubk); err != nil {
			return failWrap(ErrMalformed, err, "%s", pubkName)
		}
	}
	if sum != nil && len(sum) != sha256.Size {
		return fail(ErrMalformed, "%s is not a SHA-256 digest", sumName)
	}
	return nil
}

// ValidatePledgeRequest checks r as a pledge voucher-request (RFC 8995
// sections 3.3 and 5.2, rfc8366bis): serial-number and nonce are required,
// and so is a leaf naming the registrar: one or more of
// proximity-registrar-cert, -pubk, -pubk-sha256 (rfc8366bis: several are
// legal, "as it may allow a Pledge to operate in both constrained and
// non-constrained networks"), or, for BRSKI-PRM,
// agent-provided-proximity-registrar-cert, which an agent-proximity
// assertion requires ("This MUST be populated in a pledge's
// voucher-request when an agent-proximity assertion is requested").
// assertion is optional (RFC 8995 3.4 refines it to mandatory false; the
// draft-ietf-anima-jws-voucher examples send none), but if present it is
// proximity or agent-proximity. It must not carry what only a registrar
// writes: prior-signed-voucher-request. created-on is optional: a pledge
// may have no clock.
//
// The voucher-only leaves (pinned-domain-*, domain-cert-revocation-checks,
// last-renewal-date) are refused here, so that Landfall never builds a
// request with them, but ParseVoucherRequestJSON drops them from what it
// receives: RFC 8995 3.4 and rfc8366bis say any occurrence in a
// voucher-request MUST be ignored.
func (r *VoucherRequest) ValidatePledgeRequest() error {
	a := &r.Artifact
	if err := a.requireCommon(); err != nil {
		return err
	}
	if a.Assertion != "" && a.Assertion != AssertionProximity && a.Assertion != AssertionAgentProximity {
		return fail(ErrForbiddenLeaf, "a pledge asserts proximity, not %q", a.Assertion)
	}
	if a.Nonce == "" {
		return fail(ErrMissingLeaf, "%s", leafNonce)
	}
	if a.Assertion == AssertionAgentProximity && r.AgentProvidedProximityRegistrarCert == nil {
		return fail(ErrMissingLeaf, "%s (the assertion is agent-proximity)", leafAgentProvidedProximityRegistrarCert)
	}
	if countSet(r.ProximityRegistrarCert, r.ProximityRegistrarPubk, r.ProximityRegistrarPubkSHA256, r.AgentProvidedProximityRegistrarCert) == 0 {
		return fail(ErrMissingLeaf, "%s", leafProximityRegistrarCert)
	}
	if err := checkKeyLeaves(leafProximityRegistrarCert, r.ProximityRegistrarCert, leafProximityRegistrarPubk, r.ProximityRegistrarPubk, leafProximityRegistrarSHA256, r.ProximityRegistrarPubkSHA256); err != nil {
		return err
	}
	if err := r.checkAgentLeaves(); err != nil {
		return err
	}
	if r.PriorSignedVoucherRequest != nil {
		return fail(ErrForbiddenLeaf, "%s in a pledge request", leafPriorSignedVoucherRequest)
	}
	return a.forbidVoucherOnly("a pledge request")
}

// checkAgentLeaves checks that the BRSKI-PRM certificates are
// certificates.
func (r *VoucherRequest) checkAgentLeaves() error {
	for _, l := range []struct {
		name string
		der  []byte
	}{{leafAgentProvidedProximityRegistrarCert, r.AgentProvidedProximityRegistrarCert}, {leafAgentSignCert, r.AgentSignCert}} {
		if l.der == nil {
			continue
		}
		if _, err := x509.ParseCertificate(l.der); err != nil {
			return failWrap(ErrMalformed, err, "%s", l.name)
		}
	}
	return nil
}

// ValidateRegistrarRequest checks r as a registrar voucher-request (RFC 8995
// section 5.5): serial-number is required, prior-signed-voucher-request is
// required unless allowNoPrior (a nonceless request the registrar makes on
// its own, section 5.5), and the proximity leaves, which only the pledge
// writes, are forbidden. created-on and assertion are optional (RFC 8995
// 3.4: mandatory false; the MASA SHOULD ignore the assertion, and
// Landfall's chooses its own), so RFC 8995's Example 3 (offline, no nonce,
// no assertion) is valid. The voucher-only leaves are refused as in
// ValidatePledgeRequest, and dropped on parsing.
func (r *VoucherRequest) ValidateRegistrarRequest(allowNoPrior bool) error {
	a := &r.Artifact
	if err := a.requireCommon(); err != nil {
		return err
	}
	if r.PriorSignedVoucherRequest == nil && !allowNoPrior {
		return fail(ErrMissingLeaf, "%s", leafPriorSignedVoucherRequest)
	}
	if countSet(r.ProximityRegistrarCert, r.ProximityRegistrarPubk, r.ProximityRegistrarPubkSHA256, r.AgentProvidedProximityRegistrarCert) > 0 {
		return fail(ErrForbiddenLeaf, "proximity-registrar leaves in a registrar request")
	}
	if err := r.checkAgentLeaves(); err != nil {
		return err
	}
	return a.forbidVoucherOnly("a registrar request")
}

// requireCommon checks what all three documents need: an assertion, if
// any, of the enumeration, and a serial number; and that the rfc8366bis
// leaves are of their types: est-domain and additional-configuration-url
// absolute URIs, every extension sub-map one of a listed extension.
// Voucher.Validate requires the assertion itself (RFC 8366: mandatory in a
// voucher).
func (a *Artifact) requireCommon() error {
	if a.Assertion != "" && !a.Assertion.Known() {
		return fail(ErrUnknownAssertion, "%q", a.Assertion)
	}
	if a.SerialNumber == "" {
		return fail(ErrMissingLeaf, "%s", leafSerialNumber)
	}
	for _, u := range []struct{ name, value string }{{leafESTDomain, a.ESTDomain}, {leafAdditionalConfigurationURL, a.AdditionalConfigurationURL}} {
		if u.value == "" {
			continue
		}
		if _, err := decodeURI(u.name, jsonString(u.value)); err != nil {
			return err
		}
	}
	return a.checkExtensions()
}

// checkExtensions: rfc8366bis lists in extensions every extension the
// document uses, so a sub-map of one it does not list is unknown; names
// are unique and non-empty.
func (a *Artifact) checkExtensions() error {
	listed := make(map[string]bool, len(a.Extensions))
	for _, n := range a.Extensions {
		if n == "" || listed[n] {
			return fail(ErrMalformed, "%s: empty or repeated name %q", leafExtensions, n)
		}
		listed[n] = true
	}
	for n := range a.ExtensionData {
		if !listed[n] {
			return fail(ErrUnknownLeaf, "%s%s: extension not listed in %s", extensionMemberPrefix, n, leafExtensions)
		}
	}
	return nil
}

// jsonString is s as a JSON string value.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	writeJSONString(&buf, s)
	return buf.Bytes()
}

func (a *Artifact) forbidVoucherOnly(where string) error {
	switch {
	case a.PinnedDomainCert != nil:
		return fail(ErrForbiddenLeaf, "%s in %s", leafPinnedDomainCert, where)
	case a.PinnedDomainPubk != nil:
		return fail(ErrForbiddenLeaf, "%s in %s", leafPinnedDomainPubk, where)
	case a.PinnedDomainPubkSHA256 != nil:
		return fail(ErrForbiddenLeaf, "%s in %s", leafPinnedDomainPubkSHA256, where)
	case a.DomainCertRevocationChecks != nil:
		return fail(ErrForbiddenLeaf, "%s in %s", leafDomainCertRevocationChecks, where)
	case !a.LastRenewalDate.IsZero():
		return fail(ErrForbiddenLeaf, "%s in %s", leafLastRenewalDate, where)
	}
	return nil
}

func countSet(leaves ...[]byte) int {
	n := 0
	for _, l := range leaves {
		if l != nil {
			n++
		}
	}
	return n
}
