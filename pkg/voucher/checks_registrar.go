package voucher

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"time"
)

// PledgeRequestCheck is what the registrar knows when a pledge voucher-
// request arrives (RFC 8995 section 5.3).
type PledgeRequestCheck struct {
	// PeerCert is the IDevID that authenticated the (A)TLS session the
	// request came in on.
	PeerCert *x509.Certificate
	// RegistrarCert is the certificate the registrar presented in that
	// session; the pledge must have pinned it as proximity-registrar-cert.
	RegistrarCert *x509.Certificate
	// ManufacturerRoots, when set, must anchor the IDevID. RFC 8995 5.3
	// lets a registrar accept pledges of manufacturers it does not know
	// and leave that to the MASA; nil does so.
	ManufacturerRoots *x509.CertPool
	Intermediates     []*x509.Certificate
	At                time.Time
	Serial            SerialSource // nil means SerialFromX520
	// Format is the signature format of the signed bytes (FormatCMS, the
	// zero value, FormatJWS or FormatCOSE); the checks are the same.
	Format Format
}

// PledgeRequest is a pledge voucher-request the registrar accepted.
type PledgeRequest struct {
	Request *VoucherRequest
	CMS     []byte            // as received, for prior-signed-voucher-request
	IDevID  *x509.Certificate // its signer, the session's peer
}

// CheckPledgeRequest makes the registrar's checks of RFC 8995 section 5.3:
// the CMS signature verifies; its signer is the IDevID that authenticated
// the session (else 401, ErrWrongSigner); the JSON is a valid pledge
// request; proximity-registrar-cert is the certificate this session
// presented (else 401, ErrProximityMismatch, a man in the middle); and the
// serial-number is the IDevID's (else ErrSerialMismatch).
func CheckPledgeRequest(signed []byte, c PledgeRequestCheck) (*PledgeRequest, error) {
	if c.PeerCert == nil {
		return nil, withStatus(fail(ErrWrongSigner, "no authenticated pledge"), http.StatusUnauthorized)
	}
	if c.RegistrarCert == nil {
		return nil, fail(ErrProximityMismatch, "no registrar certificate to compare with")
	}
	inter := c.Intermediates
	if c.Format != FormatCMS {
		// A COSE pledge request carries no certificate (the draft: SHOULD
		// NOT), a JWS one may not: the session's IDevID is the signer's.
		inter = append(append([]*x509.Certificate(nil), inter...), c.PeerCert)
	}
	sc, err := VerifyAs(c.Format, signed, VerifyOptions{Roots: c.ManufacturerRoots, Intermediates: inter, At: c.At})
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(sc.Signer.Raw, c.PeerCert.Raw) {
		return nil, withStatus(fail(ErrWrongSigner, "signed by %q, not the session's IDevID %q",
			sc.Signer.Subject, c.PeerCert.Subject), http.StatusUnauthorized)
	}
	req, err := sc.ParseVoucherRequest()
	if err != nil {
		return nil, err
	}
	if err := req.ValidatePledgeRequest(); err != nil {
		return nil, err
	}
	if leaf, ok := proximityMatches(req, c.RegistrarCert); !ok {
		return nil, fail(ErrProximityMismatch, "the pledge pinned another registrar (%s)", leaf)
	}
	if err := serialMatches(c.Serial, sc.Signer, req.SerialNumber); err != nil {
		return nil, err
	}
	return &PledgeRequest{Request: req, CMS: signed, IDevID: sc.Signer}, nil
}

// proximityMatches reports whether every proximity-registrar leaf of the
// request designates cert, and if not, the first that does not. rfc8366bis
// makes several legal and has the registrar and the MASA "consider them
// in the order presented": proximity-registrar-pubk-sha256, -pubk, -cert.
// Landfall considers each that is present, in that order, and refuses on
// the first that names another registrar: a pledge request whose leaves
// disagree pins no one registrar. agent-provided-proximity-registrar-cert
// (BRSKI-PRM) is the registrar's certificate as its agent relayed it, so
// it is compared the way proximity-registrar-cert is. A request with none
// of them matches nothing.
func proximityMatches(r *VoucherRequest, cert *x509.Certificate) (leaf string, ok bool) {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	checks := []struct {
		name      string
		got, want []byte
	}{
		{leafProximityRegistrarSHA256, r.ProximityRegistrarPubkSHA256, sum[:]},
		{leafProximityRegistrarPubk, r.ProximityRegistrarPubk, cert.RawSubjectPublicKeyInfo},
		{leafProximityRegistrarCert, r.ProximityRegistrarCert, cert.Raw},
		{leafAgentProvidedProximityRegistrarCert, r.AgentProvidedProximityRegistrarCert, cert.Raw},
	}
	seen := false
	for _, c := range checks {
		if c.got == nil {
			continue
		}
		seen = true
		if !bytes.Equal(c.got, c.want) {
			return c.name, false
		}
	}
	if !seen {
		return leafProximityRegistrarCert, false
	}
	return "", true
}

// serialMatches checks the request's serial-number against the IDevID's.
func serialMatches(src SerialSource, idevid *x509.Certificate, serial string) error {
	if src == nil {
		src = SerialFromX520
	}
	got, err := src(idevid)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return withStatus(e, http.StatusForbidden)
		}
		return failWrap(ErrSerialMismatch, err, "no serial number in the IDevID")
	}
	if got != serial {
		return fail(ErrSerialMismatch, "serial-number %q, IDevID says %q", serial, got)
	}
	return nil
}
