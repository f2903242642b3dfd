package voucher

import (
	"bytes"
	"crypto/x509"
	"errors"
	"net/http"
	"time"
)

// RegistrarRequestCheck is what the MASA judges a registrar voucher-request
// by (RFC 8995 section 5.5).
type RegistrarRequestCheck struct {
	// DomainRoots, when set, must anchor the registrar (5.5.4: the MASA
	// may know the owner's CA). Nil accepts any registrar and pins the top
	// of the chain its CMS carries, as 5.5.4 allows.
	DomainRoots *x509.CertPool
	// ManufacturerRoots anchor the IDevIDs that sign the prior request.
	ManufacturerRoots *x509.CertPool
	Intermediates     []*x509.Certificate
	At                time.Time
	Serial            SerialSource // nil means SerialFromX520
	// AllowNoPrior accepts a request without prior-signed-voucher-request
	// (a nonceless request the registrar makes on its own).
	AllowNoPrior bool
	// Format is the signature format of the signed bytes (FormatCMS, the
	// zero value, FormatJWS or FormatCOSE); the checks are the same. The
	// prior-signed-voucher-request may be of another format: it is
	// recognized by its first byte (DetectFormat).
	Format Format
}

// RegistrarRequest is a registrar voucher-request the MASA accepted.
type RegistrarRequest struct {
	Request   *VoucherRequest
	Prior     *VoucherRequest   // the pledge's request, nil without one
	IDevID    *x509.Certificate // the prior request's signer
	Registrar *x509.Certificate // the signer of Request
	// RegistrarChain runs from Registrar to DomainCert.
	RegistrarChain []*x509.Certificate
	// Certificates are all the registrar's CMS carries, in order: the
	// intermediates for anchoring Registrar at a domain CA the caller
	// chooses.
	Certificates []*x509.Certificate
	// DomainCert is what the voucher should pin: the registrar chain's
	// anchor (RFC 8995 5.5.4), the registrar itself if its CMS carries no
	// issuer.
	DomainCert *x509.Certificate
}

// CheckRegistrarRequest makes the MASA's checks of RFC 8995 sections 5.5.1
// to 5.5.5: the registrar signed with an id-kp-cmcRA certificate
// (ErrWrongSigner); the request holds what a registrar request must; the
// prior-signed-voucher-request verifies against the manufacturer's anchors
// and is a valid pledge request; the pledge pinned this registrar
// (ErrProximityMismatch); a nonce, if the registrar sent one, is the
// pledge's (ErrNonceMismatch; without one the request is nonceless, and
// Request.Nonce is empty); serial-number agrees across both and with the
// IDevID (ErrSerialMismatch); idevid-issuer, if
// sent, is the IDevID's (ErrPriorMismatch). Every failure answers 400, 403
// or 415 as 5.6 says.
func CheckRegistrarRequest(signed []byte, c RegistrarRequestCheck) (*RegistrarRequest, error) {
	sc, err := VerifyAs(c.Format, signed, VerifyOptions{Roots: c.DomainRoots, Intermediates: c.Intermediates, At: c.At})
	if err != nil {
		return nil, err
	}
	if c.DomainRoots == nil && !c.At.IsZero() && (c.At.Before(sc.Signer.NotBefore) || c.At.After(sc.Signer.NotAfter)) {
		// Unanchored, the registrar's own validity is all there is to check.
		return nil, fail(ErrExpired, "registrar certificate not valid at %s", c.At.UTC().Format(time.RFC3339))
	}
	if !hasCmcRA(sc.Signer) {
		return nil, fail(ErrWrongSigner, "registrar certificate %q lacks id-kp-cmcRA", sc.Signer.Subject)
	}
	req, err := sc.ParseVoucherRequest()
	if err != nil {
		return nil, err
	}
	if err := req.ValidateRegistrarRequest(c.AllowNoPrior); err != nil {
		return nil, err
	}
	out := &RegistrarRequest{Request: req, Registrar: sc.Signer, Certificates: sc.Certificates}
	if len(sc.Chains) > 0 {
		out.RegistrarChain = sc.Chains[0]
	} else {
		out.RegistrarChain = carriedChain(sc.Signer, sc.Certificates)
	}
	out.DomainCert = out.RegistrarChain[len(out.RegistrarChain)-1]
	if req.PriorSignedVoucherRequest == nil {
		return out, nil
	}

	if c.ManufacturerRoots == nil {
		return nil, fail(ErrUntrusted, "no manufacturer anchors to verify the pledge by")
	}
	priorFormat, ok := DetectFormat(req.PriorSignedVoucherRequest)
	if !ok {
		return nil, inPrior(fail(ErrMalformed, "neither CMS, JWS nor COSE"))
	}
	priorInter := c.Intermediates
	if priorFormat != FormatCMS {
		// The draft has the registrar put the certificates the pledge
		// identified itself with in its own x5bag: the PVR carries none.
		priorInter = append(append([]*x509.Certificate(nil), priorInter...), sc.Certificates...)
	}
	psc, err := VerifyAs(priorFormat, req.PriorSignedVoucherRequest, VerifyOptions{Roots: c.ManufacturerRoots, Intermediates: priorInter, At: c.At})
	if err != nil {
		return nil, inPrior(err)
	}
	prior, err := psc.ParseVoucherRequest()
	if err == nil {
		err = prior.ValidatePledgeRequest()
	}
	if err != nil {
		return nil, inPrior(err)
	}
	out.Prior, out.IDevID = prior, psc.Signer
	if leaf, ok := proximityMatches(prior, sc.Signer); !ok {
		return nil, withStatus(fail(ErrProximityMismatch, "the pledge pinned another registrar than the signer (%s)", leaf), http.StatusForbidden)
	}
	// RFC 8995 5.5.6: "If the registrar voucher-request contains a nonce,
	// and the prior-signed-voucher-request exists, then the MASA MUST
	// verify that the nonce is consistent." A registrar request without a
	// nonce is a request for a nonceless voucher (5.5), whatever the
	// pledge sent: not a mismatch. Whether to issue one is the MASA's
	// nonceless policy (internal/masa refuses it unless allowed).
	if req.Nonce != "" && req.Nonce != prior.Nonce {
		return nil, fail(ErrNonceMismatch, "registrar nonce %q, pledge nonce %q", req.Nonce, prior.Nonce)
	}
	if req.SerialNumber != prior.SerialNumber {
		return nil, fail(ErrSerialMismatch, "registrar serial-number %q, pledge serial-number %q", req.SerialNumber, prior.SerialNumber)
	}
	if err := serialMatches(c.Serial, psc.Signer, prior.SerialNumber); err != nil {
		return nil, err
	}
	if req.IDevIDIssuer != nil && !IDevIDIssuerMatches(psc.Signer, req.IDevIDIssuer) {
		return nil, fail(ErrPriorMismatch, "idevid-issuer is not the pledge IDevID's authority key identifier")
	}
	return out, nil
}

// inPrior marks err as about the prior-signed-voucher-request.
func inPrior(err error) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Reason = leafPriorSignedVoucherRequest + ": " + c.Reason
		return &c
	}
	return err
}

// carriedChain follows issuers from leaf through certs, as far as they go.
// Each link is a verified signature (signedBy remembers those that passed).
func carriedChain(leaf *x509.Certificate, certs []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	cur := leaf
	for len(chain) <= len(certs) {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) && signedBy(cur, cur) {
			break // self-signed: the anchor
		}
		var next *x509.Certificate
		for _, c := range certs {
			if c != cur && bytes.Equal(c.RawSubject, cur.RawIssuer) && signedBy(cur, c) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}
