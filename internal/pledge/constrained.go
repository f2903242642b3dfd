package pledge

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/oscore"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// The constrained flow (Config.Constrained): the cBRSKI pledge of
// draft-ietf-anima-constrained-voucher with EST-coaps (RFC 9148), over the
// registrar's short-named resources. It is the RFC 8995 flow of Onboard
// with constrained payloads: a COSE voucher-request and voucher (/rv,
// Content-Format 836), CBOR status telemetry (/vs, /es, 60), and binary
// DER for EST (/crts 281, /att 285, /sen 286 in and 287 out).

// ConstrainedModes are the modes a constrained pledge can run in: those
// whose inner requests are CoAP messages (profile 5 and 7.8, OSCORE).
var ConstrainedModes = []string{ModeATLSOSCORE, ModeCoAPOSCORE}

// Media types of the constrained flow beyond pkg/voucher's and pkg/enroll's.
const (
	mediaCBOR      = "application/cbor"
	mediaPKIXCert  = "application/pkix-cert"
	mediaCertsOnly = "application/pkcs7-mime; smime-type=certs-only"
)

// checkConstrained refuses, before any connection, a constrained flow in a
// mode whose inner requests are not CoAP, or asked for a voucher format
// other than COSE (the zero value, CMS, means none was asked for).
func (c *Config) checkConstrained() error {
	if !c.Constrained {
		return nil
	}
	if !slices.Contains(ConstrainedModes, c.Mode) {
		return fmt.Errorf("pledge: the constrained flow runs in %s, not in %s mode", strings.Join(ConstrainedModes, ", "), c.Mode)
	}
	if c.VoucherFormat != voucher.FormatCMS && c.VoucherFormat != voucher.FormatCOSE {
		return fmt.Errorf("pledge: the constrained flow sends COSE voucher-requests (Content-Format 836), not %s", c.VoucherFormat)
	}
	return nil
}

// constrainedReport is RFC 8995's status telemetry (5.7, 5.9.4) in the
// draft's CBOR form: a map keyed by the CDDL's text names, in the order of
// the draft's examples.
type constrainedReport struct {
	Version int    `cbor:"version"`
	Status  bool   `cbor:"status"`
	Reason  string `cbor:"reason,omitempty"`
}

// encodeStatusReport is the CBOR body of /vs and /es.
func encodeStatusReport(status bool, reason string) ([]byte, error) {
	return cbor.Marshal(constrainedReport{Version: 1, Status: status, Reason: reason})
}

// onboardConstrained runs the constrained flow on an open link, after
// Onboard's connect step: /rv, voucher validation, /vs, /crts, /att, /sen
// and /es, each step named as Onboard names it.
func (r *run) onboardConstrained(ctx context.Context, l *link, base string, idevid *x509.Certificate, key crypto.Signer) (*Result, error) {
	cfg := r.cfg
	nonce, err := voucher.NewNonce()
	if err != nil {
		return r.res, err
	}
	var signed []byte
	if err := r.step("requestvoucher", func() (string, error) {
		vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{
			SerialNumber: r.res.Serial, Nonce: nonce, RegistrarCert: l.registrarChain[0], CreatedOn: cfg.now(),
		})
		if err != nil {
			return "", err
		}
		body, err := pledgeSigner(idevid, key, cfg.IDevID.Certificate[1:]).SignVoucherRequestAs(voucher.FormatCOSE, vr)
		if err != nil {
			return "", err
		}
		var contentType string
		signed, contentType, err = r.exchange(ctx, l.client, http.MethodPost, base+voucher.PathConstrainedVoucherRequest, voucher.MediaTypeVoucherCOSE, voucher.MediaTypeVoucherCOSE, body)
		if err != nil {
			return "", err
		}
		if err := expectContentFormat(contentType, voucher.MediaTypeVoucherCOSE); err != nil {
			return "", err
		}
		return fmt.Sprintf("/rv, %d-byte COSE request, nonce %s", len(body), nonce), nil
	}); err != nil {
		return r.res, err
	}

	if err := r.step("validate voucher", func() (string, error) {
		accepted, err := r.acceptVoucher(l, signed, nonce, voucher.FormatCOSE)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d-byte COSE voucher, assertion %s; registrar verified against the pinned domain CA", len(signed), accepted.Voucher.Assertion), nil
	}); err != nil {
		r.reportCBOR(ctx, l, base+voucher.PathConstrainedVoucherStatus, false, err.Error())
		return r.res, err
	}
	if err := r.step("voucher_status", func() (string, error) {
		return "/vs, CBOR, status true", r.reportCBOR(ctx, l, base+voucher.PathConstrainedVoucherStatus, true, "")
	}); err != nil {
		return r.res, err
	}

	if err := r.step("cacerts", func() (string, error) {
		body, contentType, err := r.exchange(ctx, l.client, http.MethodGet, base+enroll.PathCoapsCACerts, "", mediaCertsOnly, nil)
		if err != nil {
			return "", err
		}
		if err := expectContentFormat(contentType, mediaCertsOnly); err != nil {
			return "", err
		}
		if r.res.CACerts, err = enroll.ParseCertsOnly(body); err != nil {
			return "", err
		}
		return fmt.Sprintf("/crts, %d CA certificates", len(r.res.CACerts)), nil
	}); err != nil {
		r.reportCBOR(ctx, l, base+voucher.PathConstrainedEnrollStatus, false, err.Error())
		return r.res, err
	}
	var attrs []enroll.CSRAttr
	if err := r.step("csrattrs", func() (string, error) {
		var err error
		attrs, err = r.constrainedCSRAttrs(ctx, l, base)
		return fmt.Sprintf("/att, %d attributes", len(attrs)), err
	}); err != nil {
		return r.res, err
	}
	if err := r.step("simpleenroll", func() (string, error) {
		return r.constrainedEnroll(ctx, l, base, attrs)
	}); err != nil {
		r.reportCBOR(ctx, l, base+voucher.PathConstrainedEnrollStatus, false, err.Error())
		return r.res, err
	}
	if err := r.step("enrollstatus", func() (string, error) {
		return "/es, CBOR, status true", r.reportCBOR(ctx, l, base+voucher.PathConstrainedEnrollStatus, true, "")
	}); err != nil {
		return r.res, err
	}
	return r.res, nil
}

// constrainedCSRAttrs asks /att (Content-Format 285). A registrar with
// none answers 2.04 or 2.05 without payload, or 4.04 (RFC 7030 4.5.2).
func (r *run) constrainedCSRAttrs(ctx context.Context, l *link, base string) ([]enroll.CSRAttr, error) {
	body, _, err := r.exchange(ctx, l.client, http.MethodGet, base+enroll.PathCoapsCSRAttrs, "", enroll.MediaTypeCSRAttrs, nil)
	var pe *Error
	if errors.As(err, &pe) && (pe.Status == http.StatusNoContent || pe.Status == http.StatusNotFound) {
		return nil, nil
	}
	if err != nil || len(body) == 0 {
		return nil, err
	}
	return enroll.ParseCSRAttrs(body)
}

// constrainedEnroll is /sen: a DER PKCS#10 (286) answered by the domain
// certificate alone (287, the draft's default for a pledge), which must
// hold the CSR's key and chain to /crts. A CSR bound to a session the
// transport renewed meanwhile is built again for the new one, as Onboard
// does.
func (r *run) constrainedEnroll(ctx context.Context, l *link, base string, attrs []enroll.CSRAttr) (string, error) {
	k := r.cfg.EnrollKey
	if k == nil {
		var err error
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return "", err
		}
	}
	send := func() ([]byte, string, error) {
		binding, _ := l.binding()
		csr, err := newCSR(k, r.res.Serial, attrs, binding)
		if err != nil {
			return nil, "", err
		}
		return r.exchange(ctx, l.client, http.MethodPost, base+enroll.PathCoapsSimpleEnroll, enroll.MediaTypePKCS10, mediaPKIXCert, csr)
	}
	_, gen := l.binding()
	body, contentType, err := send()
	if _, again := l.binding(); err != nil && again != gen {
		body, contentType, err = send()
	}
	if err != nil {
		return "", err
	}
	if err := expectContentFormat(contentType, mediaPKIXCert); err != nil {
		return "", err
	}
	cert, err := x509.ParseCertificate(body)
	if err != nil {
		return "", fmt.Errorf("/sen answer: %w", err)
	}
	if !publicKeyEqual(cert.PublicKey, k.Public()) {
		return "", errors.New("issued certificate does not hold the CSR's key")
	}
	if err := verifyDomainCert([]*x509.Certificate{cert}, r.res.CACerts, r.cfg.now()); err != nil {
		return "", err
	}
	r.res.Certificate, r.res.Key = cert, k
	return fmt.Sprintf("/sen, %d-byte certificate, subject %q issued by %q", len(body), cert.Subject, cert.Issuer), nil
}

// reportCBOR sends status telemetry to /vs or /es in CBOR (the draft: a
// pledge MUST use it).
func (r *run) reportCBOR(ctx context.Context, l *link, url string, status bool, reason string) error {
	body, err := encodeStatusReport(status, reason)
	if err != nil {
		return err
	}
	_, _, err = r.exchange(ctx, l.client, http.MethodPost, url, mediaCBOR, "", body)
	return err
}

// expectContentFormat checks an answer's media type by the profile's
// comparison rules (5.6).
func expectContentFormat(got, want string) error {
	g, err1 := oscore.NormalizeMediaType(got)
	w, err2 := oscore.NormalizeMediaType(want)
	if err1 != nil || err2 != nil || g != w {
		return fmt.Errorf("registrar answered Content-Type %q, want %s", got, want)
	}
	return nil
}
