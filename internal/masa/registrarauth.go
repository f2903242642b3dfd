package masa

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// ReasonNoSuchDevice is the one reason requestvoucher and requestauditlog
// give every registrar that is not authenticated as the device's owner,
// whether the serial-number is unknown, the device is not sold yet, or it
// is sold to another domain. It names no serial-number, so the answer is
// the same bytes whatever was asked.
const ReasonNoSuchDevice = "no device of this serial-number is known to the MASA for the registrar's domain"

// noSuchDevice is that answer: 404, as RFC 8995 5.6 answers a request
// for a device the MASA does not know; from the caller's side it knows
// none. Answering 403 to a foreign owner's device and 404 to an unknown
// one would let any caller tell the manufacturer's sold, unsold and
// unknown serial-numbers apart. cause says which it was, for the log.
func noSuchDevice(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Reason: ReasonNoSuchDevice, Err: fmt.Errorf(format, args...)}
}

// checkRegistrarRequest runs every check of RFC 8995 5.5.1 to 5.5.5 that
// needs no knowledge of the device (pkg/voucher's CheckRegistrarRequest
// without a domain anchor: CMS signature, signed attributes, an
// id-kp-cmcRA signer valid now, the request's leaves, the prior-signed
// pledge request under the manufacturer's anchor, proximity, nonce and
// serial agreement). It runs before the device is looked up, so that what
// it refuses it refuses identically for every serial-number; the
// registrar's domain is judged afterwards, against the device's owner.
// f is the request's signature format (CMS, JWS or COSE); the checks are
// the same.
func (s *Service) checkRegistrarRequest(body []byte, f voucher.Format, now time.Time) (*voucher.RegistrarRequest, error) {
	rr, err := voucher.CheckRegistrarRequest(body, voucher.RegistrarRequestCheck{
		ManufacturerRoots: s.caPool, At: now, AllowNoPrior: true, Format: f,
	})
	if err != nil {
		return nil, fromVoucherError(err)
	}
	return rr, nil
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

// isOwnersRegistrar reports whether the request's signer chains, through
// the certificates its CMS carries, to the device owner's domain CA now:
// RFC 8995 5.5.4, the registrar speaks for the device's owner.
func (s *Service) isOwnersRegistrar(rr *voucher.RegistrarRequest, rec DeviceRecord, now time.Time) (*x509.Certificate, bool, error) {
	if rec.Owner == nil {
		return nil, false, nil
	}
	ca, err := parseOwner(rec.Owner)
	if err != nil {
		return nil, false, err
	}
	return ca, s.chains.chainsTo(rr.Registrar, rr.Certificates, ca, now), nil
}

// maxAnchorCandidates bounds the certificates of one request the MASA
// looks owners up by.
const maxAnchorCandidates = 16

// registeredDomain returns the registered owner whose domain CA the
// request's signer chains to now, or nil: the registrar is a customer of
// this manufacturer, though not necessarily the device's owner. The
// candidates are the owners whose CA is carried in the CMS or is named by
// a carried certificate's authority key identifier.
func (s *Service) registeredDomain(ctx context.Context, rr *voucher.RegistrarRequest, now time.Time) (*Owner, error) {
	certs := append([]*x509.Certificate{rr.Registrar}, rr.Certificates...)
	if len(certs) > maxAnchorCandidates {
		certs = certs[:maxAnchorCandidates]
	}
	var sums [][]byte
	var ids []string
	for _, c := range certs {
		sum := sha256.Sum256(c.Raw)
		sums = append(sums, sum[:])
		if len(c.AuthorityKeyId) > 0 {
			ids = append(ids, base64.StdEncoding.EncodeToString(c.AuthorityKeyId))
		}
	}
	owners, err := s.store.OwnersByAnchor(ctx, sums, ids)
	if err != nil {
		return nil, err
	}
	for i := range owners {
		ca, err := parseOwner(&owners[i])
		if err != nil {
			continue
		}
		if s.chains.chainsTo(rr.Registrar, rr.Certificates, ca, now) {
			return &owners[i], nil
		}
	}
	return nil, nil
}

// chainsTo reports whether cert chains, through the intermediates, to root
// at time now. A success on the same bytes within the last chainMemoTTL
// is reused (chainmemo.go).
func (m *chainMemo) chainsTo(cert *x509.Certificate, intermediates []*x509.Certificate, root *x509.Certificate, now time.Time) bool {
	return m.verify(cert, intermediates, root, now, func() bool {
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
	})
}

// tlsChainsTo reports whether the registrar's TLS client certificate
// chains to root (RFC 8995 5.5.6 authenticates nonceless requests by it).
func (m *chainMemo) tlsChainsTo(peer []*x509.Certificate, root *x509.Certificate, now time.Time) bool {
	return len(peer) > 0 && m.chainsTo(peer[0], peer[1:], root, now)
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
