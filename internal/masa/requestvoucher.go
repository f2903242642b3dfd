package masa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
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

// grant is what authorizeVoucher allows: the domain CA the voucher pins,
// the owner a trust-on-first-use voucher makes of its domain, and the
// assertion before proximity is considered.
type grant struct {
	domainCA  *x509.Certificate
	claim     *Owner
	assertion voucher.Assertion
}

// authorizeVoucher decides, for a request checkRegistrarRequest accepted,
// whether the registrar may learn anything about the device (RFC 8995
// 5.5.4 ownership), and answers noSuchDevice where it may not:
//
//   - a device with an owner: only a registrar whose CMS signer chains to
//     the owner's domain CA is told more (disabled, wrong IDevID, policy)
//     and gets a voucher (assertion verified);
//   - a device without an owner: only a registrar that holds the device,
//     shown by the pledge's prior-signed-voucher-request under the IDevID
//     registered for it, is told more. Trust on first use then lets its
//     domain claim the device (assertion logged); otherwise a registrar of
//     a registered domain (RFC 8995 5.6) learns that the decision is
//     pending (202 with Retry-After: the sale is not recorded yet), and
//     any other registrar gets noSuchDevice.
func (s *Service) authorizeVoucher(ctx context.Context, rr *voucher.RegistrarRequest, rec DeviceRecord, peer []*x509.Certificate, now time.Time) (grant, error) {
	serial := rec.SerialNumber
	if rec.Owner != nil {
		ownerCA, ok, err := s.isOwnersRegistrar(rr, rec, now)
		if err != nil {
			return grant{}, err
		}
		if !ok {
			return grant{}, noSuchDevice("device %q belongs to another domain than registrar %q", serial, rr.Registrar.Subject)
		}
		if err := checkDeviceFor(rr, rec); err != nil {
			return grant{}, err
		}
		return grant{domainCA: ownerCA, assertion: voucher.AssertionVerified}, nil
	}
	if rr.Prior == nil || (len(rec.IDevID) > 0 && !bytes.Equal(rec.IDevID, rr.IDevID.Raw)) {
		return grant{}, noSuchDevice("device %q has no owner and the request carries no request of its pledge", serial)
	}
	if rec.Policy.TrustOnFirstUse {
		if err := checkDeviceFor(rr, rec); err != nil {
			return grant{}, err
		}
		domainCA := rr.DomainCert
		if !domainCA.IsCA || len(rr.RegistrarChain) < 2 {
			return grant{}, Forbidden("trust on first use needs the domain CA certificate in the voucher-request")
		}
		sum := sha256.Sum256(domainCA.Raw)
		claim := &Owner{Name: domainCA.Subject.String(), CACert: domainCA.Raw, CASHA256: sum[:], DomainID: DomainID(domainCA)}
		return grant{domainCA: domainCA, claim: claim, assertion: voucher.AssertionLogged}, nil
	}
	owner, err := s.registeredDomain(ctx, rr, now)
	if err != nil {
		return grant{}, err
	}
	if owner == nil {
		return grant{}, noSuchDevice("device %q has no owner and registrar %q is of no registered domain", serial, rr.Registrar.Subject)
	}
	if s.cfg.RequireRegistrarTLS && !s.chains.tlsChainsTo(peer, owner.cert, now) {
		return grant{}, noSuchDevice("device %q has no owner and registrar %q presented no TLS client certificate of its domain", serial, rr.Registrar.Subject)
	}
	if err := checkDeviceFor(rr, rec); err != nil {
		return grant{}, err
	}
	return grant{}, Pending(s.cfg.RetryAfter, "no owner is recorded for device %q yet", serial)
}

// checkDeviceFor is what an authorized registrar may be told about the
// device itself: it is disabled, or the pledge's IDevID is not the one the
// manufacturer registered for it.
func checkDeviceFor(rr *voucher.RegistrarRequest, rec DeviceRecord) error {
	if rec.Status != DeviceActive {
		return Forbidden("device %q is disabled", rec.SerialNumber)
	}
	if rr.IDevID != nil && len(rec.IDevID) > 0 && !bytes.Equal(rec.IDevID, rr.IDevID.Raw) {
		return Forbidden("the pledge's IDevID is not the one registered for device %q", rec.SerialNumber)
	}
	return nil
}

// RequestVoucher answers a registrar voucher-request: the MASA checks of
// RFC 8995 section 5.5, the pinned domain certificate and assertion, and a
// signed voucher (section 5.6), recorded for the audit log (section 5.8).
// A byte-identical request that was answered before gets the same voucher.
//
// The order is the defence against enumeration: first every check that
// needs no device (checkRegistrarRequest), then the device, whose state is
// told only to a registrar authenticated for it (authorizeVoucher); every
// other caller gets noSuchDevice, the same bytes for an unknown, an unsold
// and a foreign-owned serial-number.
func (s *Service) RequestVoucher(ctx context.Context, in VoucherRequest) (*VoucherResponse, error) {
	now := s.clock()
	// A request without prior-signed-voucher-request is one the registrar
	// makes on its own (RFC 8995 5.5): without the pledge's nonce it can
	// only ask for a nonceless voucher, which policy must allow.
	rr, err := s.checkRegistrarRequest(in.Body, now)
	if err != nil {
		return nil, err
	}
	if rr.Prior == nil && rr.Request.Nonce != "" {
		return nil, Forbidden("a nonced voucher-request needs the pledge's prior-signed-voucher-request")
	}
	serial := rr.Request.SerialNumber
	rec, err := s.store.DeviceRecord(ctx, serial)
	if errors.Is(err, ErrNotFound) {
		return nil, noSuchDevice("unknown device %q", serial)
	}
	if err != nil {
		return nil, err
	}
	g, err := s.authorizeVoucher(ctx, rr, rec, in.PeerCertificates, now)
	if err != nil {
		return nil, err
	}
	domainCA, claim, assertion := g.domainCA, g.claim, g.assertion

	// 5.5.5: the pledge named this registrar (pkg/voucher checked that
	// proximity-registrar-cert is the signer).
	if rr.Prior != nil {
		assertion = voucher.AssertionProximity
	}

	// 5.5.6 nonces: a nonceless voucher only where policy allows it, and
	// only to a registrar authenticated by its TLS client certificate.
	authenticated := s.chains.tlsChainsTo(in.PeerCertificates, domainCA, now)
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
