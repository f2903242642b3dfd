package masa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
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

// fromVoucherError carries a pkg/voucher failure's status (RFC 8995 5.6:
// 400 malformed, 403 not signed correctly, 415 unknown type) and reason.
func fromVoucherError(err error) error {
	var ve *voucher.Error
	if errors.As(err, &ve) {
		return &Error{Status: ve.StatusCode(), Reason: strings.TrimPrefix(ve.Error(), "voucher: "), Err: err}
	}
	return err
}

// checkRegistrarRequest runs the MASA checks of RFC 8995 5.5.1 to 5.5.5
// (pkg/voucher's CheckRegistrarRequest: CMS signature, id-kp-cmcRA signer,
// the prior-signed pledge request under the manufacturer's anchor,
// proximity, nonce and serial agreement) and that the registrar's
// certificate is valid now. domain, when the device's owner is known, is
// the owner's domain CA the registrar must chain to (5.5.4); nil leaves the
// domain to the caller.
func (s *Service) checkRegistrarRequest(body []byte, domain *x509.Certificate, requirePrior bool, now time.Time) (*voucher.RegistrarRequest, error) {
	check := voucher.RegistrarRequestCheck{ManufacturerRoots: s.caPool, At: now, AllowNoPrior: !requirePrior}
	if domain != nil {
		check.DomainRoots = x509.NewCertPool()
		check.DomainRoots.AddCert(domain)
	}
	rr, err := voucher.CheckRegistrarRequest(body, check)
	var ve *voucher.Error
	if domain != nil && errors.As(err, &ve) && errors.Is(err, voucher.ErrUntrusted) &&
		!strings.HasPrefix(ve.Reason, "prior-signed-voucher-request") {
		return nil, &Error{Status: http.StatusForbidden, Err: err,
			Reason: "the device belongs to another domain: the registrar does not chain to its owner's domain CA"}
	}
	if err != nil {
		return nil, fromVoucherError(err)
	}
	// Without a domain anchor, pkg/voucher judged the signer only at its
	// signing time; the MASA judges it at its own clock too.
	if now.Before(rr.Registrar.NotBefore) || now.After(rr.Registrar.NotAfter) {
		return nil, Forbidden("expired: the registrar certificate is not valid at %s", rfc3339(now))
	}
	return rr, nil
}

// lookupDevice reads the serial number from a voucher-request before it is
// verified, to find the device and its owner, whose domain CA the
// verification then anchors the registrar to. The record is only used
// after verification succeeded; err is ErrNotFound for an unknown device
// or an unreadable request.
func (s *Service) lookupDevice(ctx context.Context, body []byte) (DeviceRecord, *x509.Certificate, error) {
	sc, err := voucher.ParseSigned(body)
	if err != nil {
		return DeviceRecord{}, nil, ErrNotFound
	}
	vr, err := voucher.ParseVoucherRequestJSON(sc.Content)
	if err != nil || vr.SerialNumber == "" {
		return DeviceRecord{}, nil, ErrNotFound
	}
	rec, err := s.store.DeviceRecord(ctx, vr.SerialNumber)
	if err != nil {
		return rec, nil, err
	}
	if rec.Owner == nil {
		return rec, nil, nil
	}
	ca, err := parseOwner(rec.Owner)
	return rec, ca, err
}

// chainsTo reports whether cert chains, through the intermediates, to root
// at time now.
func chainsTo(cert *x509.Certificate, intermediates []*x509.Certificate, root *x509.Certificate, now time.Time) bool {
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		inter.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	return err == nil
}

// parseOwner returns the owner's domain CA certificate, parsed once.
func parseOwner(o *Owner) (*x509.Certificate, error) {
	if o.cert != nil {
		return o.cert, nil
	}
	c, err := x509.ParseCertificate(o.CACert)
	if err != nil {
		return nil, errors.New("masa: owner certificate: " + err.Error())
	}
	o.cert = c
	return c, nil
}

// RequestVoucher answers a registrar voucher-request: the MASA checks of
// RFC 8995 section 5.5, the pinned domain certificate and assertion, and a
// signed voucher (section 5.6), recorded for the audit log (section 5.8).
// A byte-identical request that was answered before gets the same voucher.
func (s *Service) RequestVoucher(ctx context.Context, in VoucherRequest) (*VoucherResponse, error) {
	now := s.clock()
	rec, ownerCA, lookupErr := s.lookupDevice(ctx, in.Body)
	if lookupErr != nil && !errors.Is(lookupErr, ErrNotFound) {
		return nil, lookupErr
	}
	// A request without prior-signed-voucher-request is one the registrar
	// makes on its own (RFC 8995 5.5): without the pledge's nonce it can
	// only ask for a nonceless voucher, which policy must allow.
	rr, err := s.checkRegistrarRequest(in.Body, ownerCA, false, now)
	if err != nil {
		return nil, err
	}
	if rr.Prior == nil && rr.Request.Nonce != "" {
		return nil, Forbidden("a nonced voucher-request needs the pledge's prior-signed-voucher-request")
	}
	serial := rr.Request.SerialNumber
	if lookupErr != nil {
		return nil, NotFound("unknown device %q", serial)
	}
	if rec.Status != DeviceActive {
		return nil, Forbidden("device %q is disabled", serial)
	}
	if rr.IDevID != nil && len(rec.IDevID) > 0 && !bytes.Equal(rec.IDevID, rr.IDevID.Raw) {
		return nil, Forbidden("the pledge's IDevID is not the one registered for device %q", serial)
	}

	// 5.5.4 ownership: the signer must chain to the owner's domain CA; with
	// no owner recorded, trust on first use may let this domain claim it.
	var (
		domainCA  *x509.Certificate
		claim     *Owner
		assertion voucher.Assertion
	)
	switch {
	case ownerCA != nil:
		// CheckRegistrarRequest anchored the registrar at the owner's CA.
		domainCA = ownerCA
		assertion = voucher.AssertionVerified
	case rec.Policy.TrustOnFirstUse:
		if rr.Prior == nil {
			return nil, Forbidden("trust on first use needs the pledge's prior-signed-voucher-request")
		}
		domainCA = rr.DomainCert
		if !domainCA.IsCA || len(rr.RegistrarChain) < 2 {
			return nil, Forbidden("trust on first use needs the domain CA certificate in the voucher-request")
		}
		sum := sha256.Sum256(domainCA.Raw)
		claim = &Owner{Name: domainCA.Subject.String(), CACert: domainCA.Raw, CASHA256: sum[:], DomainID: DomainID(domainCA)}
		assertion = voucher.AssertionLogged
	default:
		return nil, Pending(s.cfg.RetryAfter, "no owner is recorded for device %q yet", serial)
	}
	// 5.5.5: the pledge named this registrar (pkg/voucher checked that
	// proximity-registrar-cert is the signer).
	if rr.Prior != nil {
		assertion = voucher.AssertionProximity
	}

	// 5.5.6 nonces: a nonceless voucher only where policy allows it, and
	// only to a registrar authenticated by its TLS client certificate.
	authenticated := len(in.PeerCertificates) > 0 && chainsTo(in.PeerCertificates[0], in.PeerCertificates[1:], domainCA, now)
	if s.cfg.RequireRegistrarTLS && !authenticated {
		return nil, Forbidden("this MASA requires a registrar TLS client certificate of the owner's domain")
	}
	var expires *time.Time
	var nonce *string
	if rr.Request.Nonce == "" {
		if !rec.Policy.NoncelessAllowed || rec.Policy.MaxLifetime <= 0 {
			return nil, Forbidden("nonceless vouchers are not allowed for device %q", serial)
		}
		if !authenticated {
			return nil, Forbidden("nonceless vouchers need a registrar authenticated by a TLS client certificate of the owner's domain")
		}
		e := now.Add(rec.Policy.MaxLifetime)
		expires = &e
	} else {
		n := rr.Request.Nonce
		nonce = &n
	}

	sum := sha256.Sum256(in.Body)
	if prev, err := s.store.VoucherByRequest(ctx, sum[:]); err == nil {
		return &VoucherResponse{CMS: prev.Voucher, Record: prev, Reused: true}, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}

	noRevocationChecks := false
	params := voucher.VoucherParams{Assertion: assertion, DomainCert: domainCA, CreatedOn: now, DomainCertRevocationChecks: &noRevocationChecks}
	if expires != nil {
		params.ExpiresOn = *expires
	}
	v, err := voucher.NewVoucher(rr.Request, params)
	if err != nil {
		return nil, err
	}
	cms, err := s.cfg.Signer.SignVoucher(v)
	if err != nil {
		return nil, err
	}
	vrec := VoucherRecord{
		SerialNumber:     serial,
		OwnerID:          rec.OwnerID,
		DomainID:         DomainID(domainCA),
		RequestSHA256:    sum[:],
		Nonce:            nonce,
		Assertion:        string(assertion),
		ExpiresOn:        expires,
		RegistrarSubject: rr.Registrar.Subject.String(),
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
		return nil, Forbidden("device %q was claimed by another domain", serial)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "voucher issued", "serial-number", serial, "assertion", assertion,
		"domain-id", vrec.DomainID, "nonceless", expires != nil, "registrar", vrec.RegistrarSubject)
	return &VoucherResponse{CMS: cms, Record: vrec}, nil
}
