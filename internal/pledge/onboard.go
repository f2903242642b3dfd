package pledge

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// MediaVoucherCMS is the media type of signed vouchers and requests,
// defined in pkg/voucher.
const MediaVoucherCMS = voucher.MediaTypeVoucherCMS

// Result is what an onboarded device keeps.
type Result struct {
	Serial      string
	Mode        string
	Voucher     *voucher.Voucher
	Certificate *x509.Certificate   // the domain certificate (LDevID)
	Chain       []*x509.Certificate // its issuers, as EST returned them
	Key         crypto.Signer
	CACerts     []*x509.Certificate // /cacerts: the domain trust anchors
	Steps       []Step
}

// Error is an onboarding failure: the step it happened in, the HTTP
// status when the registrar answered with one, and whether retrying later
// may help.
type Error struct {
	Step      string
	Status    int
	Retryable bool
	Err       error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: registrar answered %d: %v", e.Step, e.Status, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Step, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// run tracks the steps of one onboarding.
type run struct {
	cfg    *Config
	res    *Result
	waited time.Duration
}

func (r *run) step(name string, f func() (string, error)) error {
	start := time.Now()
	detail, err := f()
	s := Step{Name: name, Detail: detail, Duration: time.Since(start), Err: err}
	r.res.Steps = append(r.res.Steps, s)
	if r.cfg.Progress != nil {
		r.cfg.Progress(s)
	}
	if err != nil {
		var pe *Error
		var se *atls.StatusError
		if !errors.As(err, &pe) {
			// An ATLS-layer answer (a refused handshake, a rate limit)
			// keeps its status, so that callers see 403 or 429 as such.
			status := coapStatus(err)
			if errors.As(err, &se) {
				status = se.StatusCode
			}
			err = &Error{Step: name, Status: status, Retryable: retryable(err), Err: err}
		} else if pe.Step == "" {
			pe.Step = name
		}
		return err
	}
	return nil
}

// Onboard runs the whole RFC 8995 pledge flow once.
func Onboard(ctx context.Context, cfg Config) (*Result, error) {
	r := &run{cfg: &cfg, res: &Result{Mode: cfg.Mode}}
	if len(cfg.IDevID.Certificate) == 0 {
		return nil, errors.New("pledge: no IDevID")
	}
	idevid, err := x509.ParseCertificate(cfg.IDevID.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("pledge: IDevID: %w", err)
	}
	if r.res.Serial, err = voucher.SerialFromX520(idevid); err != nil {
		return nil, fmt.Errorf("pledge: IDevID serial number: %w", err)
	}
	key, ok := cfg.IDevID.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("pledge: IDevID key cannot sign")
	}
	if cfg.Mode == ModeCoAPOSCORE {
		cfg.Constrained = true // the only flow over CoAP
	}
	if err := cfg.checkConstrained(); err != nil {
		return nil, err
	}
	if err := cfg.checkVoucherFormat(); err != nil {
		return nil, err
	}

	var l *link
	if err := r.step("connect", func() (string, error) {
		var err error
		if l, err = connect(ctx, &cfg); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s; registrar presents %q (accepted provisionally)", cfg.Mode, l.registrarChain[0].Subject), nil
	}); err != nil {
		return r.res, err
	}
	defer l.close(context.WithoutCancel(ctx))
	base := strings.TrimSuffix(cfg.RegistrarURL, "/")
	if cfg.Mode != ModeDirect {
		base = "https://registrar" // inner requests: the authority is not used for routing
	}
	if cfg.Constrained {
		return r.onboardConstrained(ctx, l, base, idevid, key)
	}

	// RFC 8995 5.2: the pledge voucher-request, signed with the IDevID in
	// the configured format, asking for a voucher of the same format.
	nonce, err := voucher.NewNonce()
	if err != nil {
		return r.res, err
	}
	format := cfg.VoucherFormat
	var signedVoucher []byte
	if err := r.step("requestvoucher", func() (string, error) {
		vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{
			SerialNumber: r.res.Serial, Nonce: nonce, RegistrarCert: l.registrarChain[0], CreatedOn: cfg.now(),
		})
		if err != nil {
			return "", err
		}
		body, err := pledgeSigner(idevid, key, cfg.IDevID.Certificate[1:]).SignVoucherRequestAs(format, vr)
		if err != nil {
			return "", err
		}
		var contentType string
		signedVoucher, contentType, err = r.exchange(ctx, l.client, http.MethodPost, base+voucher.PathRequestVoucher, format.MediaType(), format.MediaType(), body)
		if err != nil {
			return "", err
		}
		if got, err := voucher.FormatOfMediaType(contentType); err != nil || got != format {
			return "", fmt.Errorf("registrar answered Content-Type %q to a request for %s", contentType, format.MediaType())
		}
		return fmt.Sprintf("%s, nonce %s", format, nonce), nil
	}); err != nil {
		return r.res, err
	}

	// RFC 8995 5.6.1: validate the voucher, then the registrar against the
	// domain certificate it pins.
	if err := r.step("validate voucher", func() (string, error) {
		accepted, err := r.acceptVoucher(l, signedVoucher, nonce, format)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("assertion %s by %q; registrar verified against the pinned domain CA", accepted.Voucher.Assertion, accepted.Signer.Subject), nil
	}); err != nil {
		r.report(ctx, l, base+voucher.PathVoucherStatus, false, err.Error())
		return r.res, err
	}
	if err := r.step("voucher_status", func() (string, error) {
		return "status true", r.report(ctx, l, base+voucher.PathVoucherStatus, true, "voucher accepted")
	}); err != nil {
		return r.res, err
	}

	// RFC 8995 5.9: EST.
	est := &enroll.Client{BaseURL: base + enroll.DefaultPathPrefix, HTTPClient: l.client}
	if err := r.step("cacerts", func() (string, error) {
		var err error
		r.res.CACerts, err = est.CACerts(ctx)
		return fmt.Sprintf("%d CA certificates", len(r.res.CACerts)), err
	}); err != nil {
		return r.res, err
	}
	var attrs []enroll.CSRAttr
	if err := r.step("csrattrs", func() (string, error) {
		var err error
		attrs, err = est.CSRAttrs(ctx)
		return fmt.Sprintf("%d attributes", len(attrs)), err
	}); err != nil {
		return r.res, err
	}
	if err := r.step("simpleenroll", func() (string, error) {
		k := cfg.EnrollKey
		if k == nil {
			var err error
			if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				return "", err
			}
		}
		binding, gen := l.binding()
		csr, err := newCSR(k, r.res.Serial, attrs, binding)
		if err != nil {
			return "", err
		}
		chain, err := r.retry(ctx, func() ([]*x509.Certificate, error) { return est.SimpleEnroll(ctx, csr) })
		if binding, again := l.binding(); err != nil && again != gen {
			// The context was renewed under this request: its CSR is bound
			// to the old session, so build it again for the new one.
			if csr, err = newCSR(k, r.res.Serial, attrs, binding); err != nil {
				return "", err
			}
			chain, err = r.retry(ctx, func() ([]*x509.Certificate, error) { return est.SimpleEnroll(ctx, csr) })
		}
		if err != nil {
			return "", err
		}
		if len(chain) == 0 || !publicKeyEqual(chain[0].PublicKey, k.Public()) {
			return "", errors.New("issued certificate does not hold the CSR's key")
		}
		r.res.Certificate, r.res.Chain, r.res.Key = chain[0], chain[1:], k
		if err := verifyDomainCert(chain, r.res.CACerts, cfg.now()); err != nil {
			return "", err
		}
		return fmt.Sprintf("subject %q issued by %q", chain[0].Subject, chain[0].Issuer), nil
	}); err != nil {
		r.report(ctx, l, base+voucher.PathEnrollStatus, false, err.Error())
		return r.res, err
	}
	if err := r.step("enrollstatus", func() (string, error) {
		return "status true", r.report(ctx, l, base+voucher.PathEnrollStatus, true, "certificate installed")
	}); err != nil {
		return r.res, err
	}
	return r.res, nil
}

// exchange sends one request, honouring 202 and 503 with Retry-After, and
// returns the answer and its Content-Type.
func (r *run) exchange(ctx context.Context, hc *http.Client, method, url, contentType, accept string, body []byte) ([]byte, string, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			return nil, "", err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, "", &Error{Retryable: true, Err: err}
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, "", &Error{Retryable: true, Err: err}
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return answer, resp.Header.Get("Content-Type"), nil
		case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusServiceUnavailable:
			wait := retryAfter(resp)
			if err := r.wait(ctx, attempt, wait); err != nil {
				return nil, "", &Error{Status: resp.StatusCode, Retryable: true, Err: fmt.Errorf("%s (gave up: %v)", strings.TrimSpace(string(answer)), err)}
			}
			continue
		}
		return nil, "", &Error{Status: resp.StatusCode, Err: errors.New(strings.TrimSpace(string(answer)))}
	}
}

// retry repeats an EST call the registrar answered "pending".
func (r *run) retry(ctx context.Context, f func() ([]*x509.Certificate, error)) ([]*x509.Certificate, error) {
	for attempt := 0; ; attempt++ {
		chain, err := f()
		var ee *enroll.Error
		if err == nil || !errors.As(err, &ee) || (ee.Status != http.StatusAccepted && ee.Status != http.StatusServiceUnavailable) {
			if errors.As(err, &ee) {
				return nil, &Error{Status: ee.Status, Err: err}
			}
			return chain, err
		}
		if werr := r.wait(ctx, attempt, ee.RetryAfter); werr != nil {
			return nil, &Error{Status: ee.Status, Retryable: true, Err: fmt.Errorf("%v (gave up: %v)", err, werr)}
		}
	}
}

// wait sleeps for a Retry-After within the configured bounds.
func (r *run) wait(ctx context.Context, attempt int, d time.Duration) error {
	maxRetries, maxWait := r.cfg.MaxRetries, r.cfg.MaxWait
	if maxRetries == 0 {
		maxRetries = 10
	}
	if maxWait == 0 {
		maxWait = 5 * time.Minute
	}
	if d <= 0 {
		d = time.Second
	}
	if attempt >= maxRetries || r.waited+d > maxWait {
		return fmt.Errorf("retried %d times over %v", attempt, r.waited)
	}
	r.waited += d
	sleep := r.cfg.Sleep
	if sleep == nil {
		sleep = time.After
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-sleep(d):
		return nil
	}
}

// report sends voucher or enrollment status telemetry (RFC 8995 5.7,
// 5.9.4).
func (r *run) report(ctx context.Context, l *link, url string, status bool, reason string) error {
	body, _ := json.Marshal(map[string]any{"version": 1, "status": status, "reason": reason})
	_, _, err := r.exchange(ctx, l.client, http.MethodPost, url, "application/json", "", body)
	return err
}

func retryAfter(resp *http.Response) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// pledgeSigner signs the pledge voucher-request with the IDevID: CMS and
// JWS carry it and its intermediates, a COSE request carries no
// certificate (the constrained-voucher draft: the registrar knows the
// IDevID from the session and passes it to the MASA).
func pledgeSigner(idevid *x509.Certificate, key crypto.Signer, chain [][]byte) *voucher.Signer {
	return &voucher.Signer{Cert: idevid, Key: key, Chain: certs(chain), COSE: voucher.COSEOptions{Certs: voucher.COSENoCerts}}
}

func certs(ders [][]byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, d := range ders {
		if c, err := x509.ParseCertificate(d); err == nil {
			out = append(out, c)
		}
	}
	return out
}
