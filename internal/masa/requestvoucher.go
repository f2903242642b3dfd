package masa

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// VoucherRequest is one registrar voucher-request as it arrived.
type VoucherRequest struct {
	// Body is the signed registrar voucher-request: CMS (DER), JWS or
	// COSE_Sign1, as Format says.
	Body []byte
	// Format is the request's signature format, from its Content-Type;
	// the zero value is CMS (RFC 8995 5.5).
	Format voucher.Format
	// Answer is the format the voucher is to be signed in, negotiated from
	// the Accept header (voucher.NegotiateFormat among VoucherFormats); the
	// zero value is CMS.
	Answer voucher.Format
	// PeerCertificates is the TLS client certificate chain the registrar
	// presented, if any; it authenticates the registrar (RFC 8995 5.5.6).
	PeerCertificates []*x509.Certificate
}

// VoucherResponse is an issued voucher.
type VoucherResponse struct {
	// Voucher is the signed voucher in Format: application/voucher-cms+json,
	// application/voucher-jws+json or application/voucher+cose.
	Voucher []byte
	Format  voucher.Format
	Record  VoucherRecord
	Reused  bool // a byte-identical request had been answered in Format before
}

// VoucherFormats are the formats this MASA signs vouchers in: CMS always;
// JWS and COSE, whose profiles are ECDSA only, when the voucher-signing
// key is ECDSA on P-256, P-384 or P-521.
func (s *Service) VoucherFormats() []voucher.Format {
	if k, ok := s.cfg.Signer.Key.Public().(*ecdsa.PublicKey); ok {
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return voucher.Formats
		}
	}
	return []voucher.Format{voucher.FormatCMS}
}

// requestKey is what a repeated request is recognised by: the request's
// SHA-256 for a CMS voucher, as RFC 8995 knows only CMS, and for another
// answer format the SHA-256 of the request followed by that format's
// media type, so that the same request answered in two formats gets two
// vouchers, each repeated byte for byte.
func requestKey(body []byte, answer voucher.Format) []byte {
	h := sha256.New()
	h.Write(body)
	if answer != voucher.FormatCMS {
		h.Write([]byte{0})
		h.Write([]byte(answer.MediaType()))
	}
	return h.Sum(nil)
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
// A byte-identical request that was answered before in the same format
// gets the same voucher. The request may be CMS, JWS or COSE (in.Format)
// and the voucher is signed in in.Answer; the checks are the same.
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
	rr, err := s.checkRegistrarRequest(in.Body, in.Format, now)
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

	// A repeated request is found by its key when the voucher is recorded
	// (the insert's unique key), not by a read before: the common first
	// request costs one round trip, a repeat one signature more.
	sum := requestKey(in.Body, in.Answer)

	noRevocationChecks := false
	params := voucher.VoucherParams{Assertion: assertion, DomainCert: domainCA, CreatedOn: now, DomainCertRevocationChecks: &noRevocationChecks}
	if expires != nil {
		params.ExpiresOn = *expires
	}
	v, err := voucher.NewVoucher(rr.Request, params)
	if err != nil {
		return nil, fromVoucherError(err)
	}
	// A request's leaves that JSON carries but CBOR cannot (a nonce that
	// is not base64) make a COSE voucher impossible: the answer is the
	// voucher package's 400, not a failure of the MASA.
	signed, err := s.cfg.Signer.SignVoucherAs(in.Answer, v)
	if err != nil {
		return nil, fromVoucherError(err)
	}
	vrec := VoucherRecord{
		SerialNumber:     serial,
		OwnerID:          rec.OwnerID,
		DomainID:         DomainID(domainCA),
		RequestSHA256:    sum,
		Nonce:            nonce,
		Assertion:        string(assertion),
		ExpiresOn:        expires,
		RegistrarSubject: rr.Registrar.Subject.String(),
		Voucher:          signed,
		IssuedAt:         now,
	}
	vrec, err = s.store.RecordVoucher(ctx, vrec, claim)
	if errors.Is(err, ErrDuplicate) {
		// The same request was answered before (or concurrently), or
		// another domain claimed the device first: answer as that state
		// says.
		if prev, perr := s.store.VoucherByRequest(ctx, sum); perr == nil {
			return &VoucherResponse{Voucher: prev.Voucher, Format: in.Answer, Record: prev, Reused: true}, nil
		}
		return nil, Forbidden("device %q was claimed by another domain", serial)
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "voucher issued", "serial-number", serial, "assertion", assertion,
		"domain-id", vrec.DomainID, "nonceless", expires != nil, "registrar", vrec.RegistrarSubject,
		"request-format", in.Format, "voucher-format", in.Answer)
	return &VoucherResponse{Voucher: signed, Format: in.Answer, Record: vrec}, nil
}
