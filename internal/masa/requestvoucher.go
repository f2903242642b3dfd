package masa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// VoucherRequest is one registrar voucher-request as it arrived.
type VoucherRequest struct {
	// Body is the CMS-signed registrar voucher-request (DER).
	Body []byte
	// PeerCertificates is the TLS client certificate chain the registrar
	// presented, if any; it authenticates the registrar (RFC 8995 5.5.6).
	PeerCertificates []*x509.Certificate
}

// VoucherResponse is an issued voucher.
type VoucherResponse struct {
	CMS    []byte // the signed voucher (DER), application/voucher-cms+json
	Record VoucherRecord
	Reused bool // a byte-identical request had been answered before
}

// checkedRequest is a registrar voucher-request that passed the checks that
// need no device record: signature, registrar role, validity, and the
// pledge's prior-signed request.
type checkedRequest struct {
	raw          []byte
	signed       *signedRequest
	req          *voucherRequest
	pledge       *voucherRequest // nil when there is no prior-signed request
	pledgeIDevID *x509.Certificate
	proximity    bool // proximity-registrar-cert names the signer
}

// isRegistrar reports whether cert carries id-kp-cmcRA (RFC 7030 3.6.1),
// which RFC 8995 5.5.2 requires of the registrar voucher-request's signer.
func isRegistrar(cert *x509.Certificate) bool {
	for _, oid := range cert.UnknownExtKeyUsage {
		if oid.Equal([]int{1, 3, 6, 1, 5, 5, 7, 3, 28}) {
			return true
		}
	}
	return false
}

// checkRegistrarRequest runs the checks of RFC 8995 5.5.2, 5.5.4 and 5.5.5
// that do not depend on the device's record. requirePrior says whether the
// prior-signed-voucher-request must be present.
func (s *Service) checkRegistrarRequest(body []byte, requirePrior bool) (*checkedRequest, error) {
	now := s.clock()
	sr, err := parseSignedRequest(body)
	if err != nil {
		var sig errSignature
		if errors.As(err, &sig) {
			return nil, errorf(http.StatusForbidden, err, "voucher-request signature does not verify")
		}
		return nil, errorf(http.StatusBadRequest, err, "malformed voucher-request: %v", err)
	}
	if !isVoucherContent(sr.ContentType) {
		return nil, BadRequest("voucher-request eContentType %v is neither id-ct-animaJSONVoucher nor id-data", sr.ContentType)
	}
	// 5.5.2: signed by a registrar.
	if !isRegistrar(sr.Signer) {
		return nil, Forbidden("voucher-request signer is not a registrar (no id-kp-cmcRA extended key usage)")
	}
	if now.Before(sr.Signer.NotBefore) {
		return nil, Forbidden("registrar certificate is not valid yet")
	}
	if now.After(sr.Signer.NotAfter) {
		return nil, Forbidden("registrar certificate has expired")
	}
	vr, err := decodeVoucherRequest(sr.Content)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, err, "malformed voucher-request: %v", err)
	}
	cr := &checkedRequest{raw: body, signed: sr, req: vr}
	if len(vr.PriorSignedVoucherRequest) == 0 {
		if requirePrior {
			return nil, Forbidden("voucher-request has no prior-signed-voucher-request")
		}
		return cr, nil
	}
	// 5.5.4: the pledge's own request, signed with its IDevID.
	psr, err := parseSignedRequest(vr.PriorSignedVoucherRequest)
	if err != nil {
		var sig errSignature
		if errors.As(err, &sig) {
			return nil, errorf(http.StatusForbidden, err, "prior-signed-voucher-request signature does not verify")
		}
		return nil, errorf(http.StatusBadRequest, err, "malformed prior-signed-voucher-request: %v", err)
	}
	if _, err := psr.Signer.Verify(x509.VerifyOptions{
		Roots: s.caPool, Intermediates: poolOf(psr.Certs), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, errorf(http.StatusForbidden, err, "prior-signed-voucher-request is not signed by an IDevID of this manufacturer")
	}
	if !isVoucherContent(psr.ContentType) {
		return nil, BadRequest("prior-signed-voucher-request eContentType %v is neither id-ct-animaJSONVoucher nor id-data", psr.ContentType)
	}
	pvr, err := decodeVoucherRequest(psr.Content)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, err, "malformed prior-signed-voucher-request: %v", err)
	}
	if psr.Signer.Subject.SerialNumber != pvr.SerialNumber {
		return nil, Forbidden("pledge voucher-request serial-number does not match its IDevID")
	}
	if vr.SerialNumber != pvr.SerialNumber {
		return nil, Forbidden("serial-number does not match the prior-signed-voucher-request")
	}
	if !sameNonce(vr.Nonce, pvr.Nonce) {
		return nil, Forbidden("nonce does not match the prior-signed-voucher-request")
	}
	// 5.5.5: the registrar the pledge saw is the one that signed.
	if len(pvr.ProximityRegistrarCert) > 0 {
		if !bytes.Equal(pvr.ProximityRegistrarCert, sr.Signer.Raw) {
			return nil, Forbidden("proximity-registrar-cert is not the certificate that signed the voucher-request")
		}
		cr.proximity = true
	}
	cr.pledge = pvr
	cr.pledgeIDevID = psr.Signer
	return cr, nil
}

// isVoucherContent accepts both eContentTypes a voucher-request may carry.
func isVoucherContent(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(OIDVoucherContent) || oid.Equal(OIDData)
}

func sameNonce(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func poolOf(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// chainsTo reports whether cert chains, through the intermediates, to root
// at time now.
func chainsTo(cert *x509.Certificate, intermediates []*x509.Certificate, root *x509.Certificate, now time.Time) bool {
	roots := x509.NewCertPool()
	roots.AddCert(root)
	_, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: poolOf(intermediates), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err == nil
}

// domainCAOf returns the self-signed CA certificate among the CMS's
// certificates that the signer chains to: the domain CA the request names.
func domainCAOf(sr *signedRequest, now time.Time) (*x509.Certificate, error) {
	roots := x509.NewCertPool()
	for _, c := range sr.Certs {
		if c.IsCA && bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
		}
	}
	chains, err := sr.Signer.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: poolOf(sr.Certs), CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil || len(chains) == 0 {
		return nil, errors.New("the voucher-request does not carry the domain CA certificate its signer chains to")
	}
	return chains[0][len(chains[0])-1], nil
}

// parseOwner returns the owner's domain CA certificate, parsed once.
func parseOwner(o *Owner) (*x509.Certificate, error) {
	if o.cert != nil {
		return o.cert, nil
	}
	c, err := x509.ParseCertificate(o.CACert)
	if err != nil {
		return nil, fmt.Errorf("masa: owner %d certificate: %w", o.ID, err)
	}
	o.cert = c
	return c, nil
}

// RequestVoucher answers a registrar voucher-request: the MASA checks of
// RFC 8995 section 5.5, the pinned domain certificate and assertion, and a
// signed voucher (section 5.6), recorded for the audit log (section 5.8).
// A byte-identical request that was answered before gets the same voucher.
func (s *Service) RequestVoucher(ctx context.Context, in VoucherRequest) (*VoucherResponse, error) {
	cr, err := s.checkRegistrarRequest(in.Body, true)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	rec, err := s.store.DeviceRecord(ctx, cr.req.SerialNumber)
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("unknown device %q", cr.req.SerialNumber)
	}
	if err != nil {
		return nil, err
	}
	if rec.Status != DeviceActive {
		return nil, Forbidden("device %q is disabled", rec.SerialNumber)
	}
	if len(rec.IDevID) > 0 && !bytes.Equal(rec.IDevID, cr.pledgeIDevID.Raw) {
		return nil, Forbidden("the pledge's IDevID is not the one registered for device %q", rec.SerialNumber)
	}

	// 5.5.5 ownership: the signer must chain to the owner's domain CA; with
	// no owner recorded, trust on first use may let this domain claim it.
	var (
		domainCA  *x509.Certificate
		claim     *Owner
		assertion string
	)
	switch {
	case rec.Owner != nil:
		domainCA, err = parseOwner(rec.Owner)
		if err != nil {
			return nil, err
		}
		if !chainsTo(cr.signed.Signer, cr.signed.Certs, domainCA, now) {
			return nil, Forbidden("device %q belongs to another domain", rec.SerialNumber)
		}
		assertion = AssertionVerified
	case rec.Policy.TrustOnFirstUse:
		domainCA, err = domainCAOf(cr.signed, now)
		if err != nil {
			return nil, errorf(http.StatusForbidden, err, "%v", err)
		}
		sum := sha256.Sum256(domainCA.Raw)
		claim = &Owner{Name: domainCA.Subject.String(), CACert: domainCA.Raw, CASHA256: sum[:], DomainID: DomainID(domainCA)}
		assertion = AssertionLogged
	default:
		return nil, Pending(s.cfg.RetryAfter, "no owner is recorded for device %q yet", rec.SerialNumber)
	}
	if cr.proximity {
		assertion = AssertionProximity
	}

	// 5.5.6 nonces: a nonceless voucher only where policy allows it, and
	// only to a registrar authenticated by its TLS client certificate.
	authenticated := len(in.PeerCertificates) > 0 && chainsTo(in.PeerCertificates[0], in.PeerCertificates[1:], domainCA, now)
	if s.cfg.RequireRegistrarTLS && !authenticated {
		return nil, Forbidden("this MASA requires a registrar TLS client certificate of the owner's domain")
	}
	var expires *time.Time
	if cr.req.Nonce == nil {
		if !rec.Policy.NoncelessAllowed || rec.Policy.MaxLifetime <= 0 {
			return nil, Forbidden("nonceless vouchers are not allowed for device %q", rec.SerialNumber)
		}
		if !authenticated {
			return nil, Forbidden("nonceless vouchers need a registrar authenticated by a TLS client certificate of the owner's domain")
		}
		e := now.Add(rec.Policy.MaxLifetime)
		expires = &e
	}

	sum := sha256.Sum256(in.Body)
	if prev, err := s.store.VoucherByRequest(ctx, sum[:]); err == nil {
		return &VoucherResponse{CMS: prev.Voucher, Record: prev, Reused: true}, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}

	v := voucher{
		CreatedOn:        rfc3339(now),
		Assertion:        assertion,
		SerialNumber:     rec.SerialNumber,
		PinnedDomainCert: domainCA.Raw,
		Nonce:            cr.req.Nonce,
	}
	if expires != nil {
		v.ExpiresOn = rfc3339(*expires)
	}
	content, err := json.Marshal(voucherEnvelope{Voucher: v})
	if err != nil {
		return nil, err
	}
	cms, err := s.cfg.Signer.Sign(content, now)
	if err != nil {
		return nil, err
	}
	vrec := VoucherRecord{
		SerialNumber:     rec.SerialNumber,
		OwnerID:          rec.OwnerID,
		DomainID:         DomainID(domainCA),
		RequestSHA256:    sum[:],
		Nonce:            cr.req.Nonce,
		Assertion:        assertion,
		ExpiresOn:        expires,
		RegistrarSubject: cr.signed.Signer.Subject.String(),
		Voucher:          cms,
		IssuedAt:         now,
	}
	vrec, err = s.store.RecordVoucher(ctx, vrec, claim)
	if errors.Is(err, ErrDuplicate) {
		// A concurrent identical request won, or another domain claimed the
		// device first: answer as that state says.
		if prev, perr := s.store.VoucherByRequest(ctx, sum[:]); perr == nil {
			return &VoucherResponse{CMS: prev.Voucher, Record: prev, Reused: true}, nil
		}
		return nil, Forbidden("device %q was claimed by another domain", rec.SerialNumber)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "voucher issued", "serial-number", vrec.SerialNumber, "assertion", assertion,
		"domain-id", vrec.DomainID, "nonceless", expires != nil, "registrar", vrec.RegistrarSubject)
	return &VoucherResponse{CMS: cms, Record: vrec}, nil
}
