package voucher

import (
	"crypto/x509"
)

// This file says which leaves each of the three documents must and must
// not hold.

// Validate checks v as a voucher (RFC 8366 section 5.3, rfc8366bis):
// created-on, assertion and serial-number are mandatory, and exactly one of
// the pinned-domain-cert choice is present; a pinned-domain-cert must be a
// certificate and expires-on may not precede created-on.
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
	switch n := countSet(a.PinnedDomainCert, a.PinnedDomainPubk, a.PinnedDomainPubkSHA256); {
	case n == 0:
		return fail(ErrMissingLeaf, "one of %s, %s, %s", leafPinnedDomainCert, leafPinnedDomainPubk, leafPinnedDomainPubkSHA256)
	case n > 1:
		return fail(ErrForbiddenLeaf, "%s, %s and %s are one choice", leafPinnedDomainCert, leafPinnedDomainPubk, leafPinnedDomainPubkSHA256)
	}
	if a.PinnedDomainCert != nil {
		if _, err := x509.ParseCertificate(a.PinnedDomainCert); err != nil {
			return failWrap(ErrMalformed, err, "%s", leafPinnedDomainCert)
		}
	}
	if a.PinnedDomainPubk != nil {
		if _, err := x509.ParsePKIXPublicKey(a.PinnedDomainPubk); err != nil {
			return failWrap(ErrMalformed, err, "%s", leafPinnedDomainPubk)
		}
	}
	if a.PinnedDomainPubkSHA256 != nil && len(a.PinnedDomainPubkSHA256) != 32 {
		return fail(ErrMalformed, "%s is not a SHA-256 digest", leafPinnedDomainPubkSHA256)
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

// ValidatePledgeRequest checks r as a pledge voucher-request (RFC 8995
// sections 3.3 and 5.2): serial-number and nonce are required, and so is
// exactly one of proximity-registrar-cert, -pubk, -pubk-sha256. assertion
// is optional (RFC 8995 3.4 refines it to mandatory false; the
// draft-ietf-anima-jws-voucher examples send none), but if present it is
// proximity or agent-proximity. It must not carry what only a registrar
// writes: prior-signed-voucher-request; nor last-renewal-date. created-on
// is optional: a pledge may have no clock.
//
// The voucher-only leaves (pinned-domain-*, domain-cert-revocation-checks)
// are refused here, so that Landfall never builds a request with them, but
// ParseVoucherRequestJSON drops them from what it receives: RFC 8995 3.4
// says any occurrence in a voucher-request MUST be ignored.
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
	switch n := countSet(r.ProximityRegistrarCert, r.ProximityRegistrarPubk, r.ProximityRegistrarPubkSHA256); {
	case n == 0:
		return fail(ErrMissingLeaf, "%s", leafProximityRegistrarCert)
	case n > 1:
		return fail(ErrForbiddenLeaf, "more than one of the proximity-registrar leaves")
	}
	if r.ProximityRegistrarCert != nil {
		if _, err := x509.ParseCertificate(r.ProximityRegistrarCert); err != nil {
			return failWrap(ErrMalformed, err, "%s", leafProximityRegistrarCert)
		}
	}
	if r.PriorSignedVoucherRequest != nil {
		return fail(ErrForbiddenLeaf, "%s in a pledge request", leafPriorSignedVoucherRequest)
	}
	return a.forbidVoucherOnly("a pledge request")
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
	if countSet(r.ProximityRegistrarCert, r.ProximityRegistrarPubk, r.ProximityRegistrarPubkSHA256) > 0 {
		return fail(ErrForbiddenLeaf, "proximity-registrar leaves in a registrar request")
	}
	return a.forbidVoucherOnly("a registrar request")
}

// requireCommon checks what all three documents need: an assertion, if
// any, of the enumeration, and a serial number. Voucher.Validate requires
// the assertion itself (RFC 8366: mandatory in a voucher).
func (a *Artifact) requireCommon() error {
	if a.Assertion != "" && !a.Assertion.Known() {
		return fail(ErrUnknownAssertion, "%q", a.Assertion)
	}
	if a.SerialNumber == "" {
		return fail(ErrMissingLeaf, "%s", leafSerialNumber)
	}
	return nil
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
