package voucher

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"time"
)

// This file builds the three documents: the pledge voucher-request (RFC 8995
// section 5.2), the registrar voucher-request (section 5.5) and the voucher
// (section 5.6, RFC 8366).

// NewNonce returns a fresh nonce: 16 random bytes, base64url without
// padding, the form of the RFC 8995 examples.
func NewNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("voucher: nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// PledgeRequestParams are what a pledge puts in its voucher-request.
type PledgeRequestParams struct {
	SerialNumber string // from its own IDevID
	Nonce        string // NewNonce
	// RegistrarCert is the certificate the registrar presented in the
	// (A)TLS handshake, sent back as proximity-registrar-cert.
	RegistrarCert *x509.Certificate
	CreatedOn     time.Time // zero for a pledge without a clock
	Assertion     Assertion // zero means proximity
}

// NewPledgeRequest builds and validates a pledge voucher-request (RFC 8995
// section 5.2).
func NewPledgeRequest(p PledgeRequestParams) (*VoucherRequest, error) {
	if p.RegistrarCert == nil {
		return nil, fail(ErrMissingLeaf, "%s: no registrar certificate", leafProximityRegistrarCert)
	}
	a := p.Assertion
	if a == "" {
		a = AssertionProximity
	}
	r := &VoucherRequest{
		Artifact: Artifact{
			CreatedOn:    p.CreatedOn,
			Assertion:    a,
			SerialNumber: p.SerialNumber,
			Nonce:        p.Nonce,
		},
		ProximityRegistrarCert: p.RegistrarCert.Raw,
	}
	if err := r.ValidatePledgeRequest(); err != nil {
		return nil, err
	}
	return r, nil
}

// NewRegistrarRequest builds the registrar voucher-request of RFC 8995
// section 5.5 from a pledge request that CheckPledgeRequest accepted:
// prior-signed-voucher-request is the pledge's CMS byte for byte, nonce,
// serial-number and assertion are copied, idevid-issuer is computed from
// the IDevID as rfc8366bis says (IDevIDIssuer: its Authority Key
// Identifier, or one made from its key if it has none), created-on is now.
func NewRegistrarRequest(pledgeCMS []byte, pledge *VoucherRequest, idevid *x509.Certificate, now time.Time) (*VoucherRequest, error) {
	if len(pledgeCMS) == 0 || pledge == nil {
		return nil, fail(ErrMissingLeaf, "%s", leafPriorSignedVoucherRequest)
	}
	r := &VoucherRequest{
		Artifact: Artifact{
			CreatedOn:    now,
			Assertion:    pledge.Assertion,
			SerialNumber: pledge.SerialNumber,
			Nonce:        pledge.Nonce,
		},
		PriorSignedVoucherRequest: append([]byte(nil), pledgeCMS...),
	}
	if idevid != nil {
		issuer, err := IDevIDIssuer(idevid)
		if err != nil {
			return nil, err
		}
		r.IDevIDIssuer = issuer
	}
	if err := r.ValidateRegistrarRequest(false); err != nil {
		return nil, err
	}
	return r, nil
}

// VoucherParams are the MASA's decisions for one voucher.
type VoucherParams struct {
	Assertion Assertion // verified, logged (RFC 8995 5.5.5), proximity
	// DomainCert is the owner's domain CA (RFC 8995 5.5.4: the registrar
	// chain's anchor) pinned as pinned-domain-cert. Set it or
	// DomainPubk.
	DomainCert *x509.Certificate
	DomainPubk []byte // DER SubjectPublicKeyInfo, for pinned-domain-pubk
	CreatedOn  time.Time
	// ExpiresOn is for nonceless vouchers; zero omits it.
	ExpiresOn                  time.Time
	LastRenewalDate            time.Time
	DomainCertRevocationChecks *bool
	// IDevIDIssuer is copied when the request's is empty.
	IDevIDIssuer []byte
	// The rfc8366bis leaves the MASA may add (BRSKI-CLOUD's est-domain and
	// additional-configuration-url, its own manufacturer-proprietary
	// bytes, extensions): the MASA's choice, never copied from the request
	// (the draft says nothing of copying them).
	ESTDomain                  string
	AdditionalConfigurationURL string
	ManufacturerProprietary    []byte
	Extensions                 []string
}

// NewVoucher builds and validates the voucher answering a registrar
// request (RFC 8995 section 5.6): serial-number, nonce and idevid-issuer
// come from the request.
func NewVoucher(req *VoucherRequest, p VoucherParams) (*Voucher, error) {
	v := &Voucher{Artifact: Artifact{
		CreatedOn:                  p.CreatedOn,
		ExpiresOn:                  p.ExpiresOn,
		Assertion:                  p.Assertion,
		SerialNumber:               req.SerialNumber,
		IDevIDIssuer:               req.IDevIDIssuer,
		Nonce:                      req.Nonce,
		DomainCertRevocationChecks: p.DomainCertRevocationChecks,
		LastRenewalDate:            p.LastRenewalDate,
		PinnedDomainPubk:           p.DomainPubk,
		ESTDomain:                  p.ESTDomain,
		AdditionalConfigurationURL: p.AdditionalConfigurationURL,
		ManufacturerProprietary:    p.ManufacturerProprietary,
		Extensions:                 p.Extensions,
	}}
	if v.IDevIDIssuer == nil {
		v.IDevIDIssuer = p.IDevIDIssuer
	}
	if p.DomainCert != nil {
		v.PinnedDomainCert = p.DomainCert.Raw
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}
