package registrar

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// maxVoucherRequestSize bounds a pledge voucher-request.
const maxVoucherRequestSize = 64 << 10

// Approval modes: who decides that a pledge may onboard.
const (
	ApprovalAuto      = "auto"       // every pledge of a trusted manufacturer
	ApprovalAllowList = "allow-list" // pledges on the allow-list; others wait for an operator
	ApprovalManual    = "manual"     // an operator approves each pledge
)

// requestVoucher is RFC 8995 5.2-5.6 on the registrar: check the pledge's
// request (5.3), decide whether the pledge is welcome, send a registrar
// voucher-request to its MASA (5.5) and pass the voucher back (5.6). Every
// exchange is recorded, whatever its outcome.
func (rg *Registrar) requestVoucher(w http.ResponseWriter, r *http.Request) {
	signed, format, err := rg.obtainVoucher(r)
	if err != nil {
		rg.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", format.MediaType())
	w.WriteHeader(http.StatusOK)
	w.Write(signed)
}

// obtainVoucher runs the registrar's steps of RFC 8995 5.3-5.6 in order
// and returns the voucher for the pledge and its format.
func (rg *Registrar) obtainVoucher(r *http.Request) ([]byte, voucher.Format, error) {
	ctx := r.Context()
	pr, err := rg.checkPledgeRequest(r)
	if err != nil {
		return nil, 0, err
	}
	p, ex, err := rg.admit(ctx, pr)
	if err != nil {
		return nil, 0, err
	}
	if ex.RegistrarRequest, err = rg.registrarVoucherRequest(ctx, pr); err != nil {
		return nil, 0, err
	}
	signed, err := rg.relayToMASA(ctx, pr, p, ex)
	return signed, pr.answer, err
}

// pledgeRequest is a pledge voucher-request that passed RFC 8995 5.3, with
// the identity of the pledge that sent it.
type pledgeRequest struct {
	pledge *Pledge
	body   []byte         // the signed request as received
	format voucher.Format // body's, by its Content-Type
	// answer is the format of the voucher the pledge is given: its
	// request's unless its Accept names another (voucher.NegotiateFormat).
	answer  voucher.Format
	checked *voucher.PledgeRequest
}

// checkPledgeRequest is RFC 8995 5.2 and 5.3 on the registrar: the request
// is a voucher-request in CMS, JWS or COSE (415 otherwise, by its
// Content-Type) from a pledge that accepts a voucher in one of them (406
// otherwise), signed by the session's IDevID, showing proximity to this
// session's registrar certificate (401 otherwise: a man in the middle),
// and naming the IDevID's serial number. The media types are judged before
// anything is read or recorded.
func (rg *Registrar) checkPledgeRequest(r *http.Request) (*pledgeRequest, error) {
	format, err := voucher.FormatOfMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, &httpError{http.StatusUnsupportedMediaType, "voucher-requests are one of " + voucher.MediaTypes(voucher.Formats)}
	}
	answer, ok := voucher.NegotiateFormat(r.Header.Get("Accept"), format, voucher.Formats)
	if !ok {
		return nil, &httpError{http.StatusNotAcceptable, "this registrar returns only " + voucher.MediaTypes(voucher.Formats) + " vouchers; Accept names none of them"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxVoucherRequestSize))
	if err != nil {
		return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("voucher-request over %d bytes", maxVoucherRequestSize)}
	}
	pledge, err := rg.identify(r)
	if err != nil {
		return nil, err
	}
	registrarCert, err := x509.ParseCertificate(pledge.RegistrarCert)
	if err != nil {
		return nil, fmt.Errorf("registrar certificate: %w", err)
	}
	checked, err := voucher.CheckPledgeRequest(body, voucher.PledgeRequestCheck{
		PeerCert:      pledge.IDevID,
		RegistrarCert: registrarCert,
		Intermediates: pledge.Chain[1:],
		At:            rg.now(),
		Serial:        serialSource(pledge.Manufacturer.SerialField),
		Format:        format,
	})
	if err != nil {
		return nil, voucherError(err)
	}
	return &pledgeRequest{pledge: pledge, body: body, format: format, answer: answer, checked: checked}, nil
}

// admit is the registrar's decision that a pledge is welcome (RFC 8995
// 5.5: "the registrar determines whether it wishes to onboard the
// pledge"): the pledge is recorded, the approval mode applied, and a
// denied (403) or held (202, Retry-After) pledge's exchange recorded. It
// returns the pledge record and its exchange so far.
func (rg *Registrar) admit(ctx context.Context, pr *pledgeRequest) (*store.Pledge, store.Exchange, error) {
	p, err := rg.state.Touch(ctx, pr.pledge.Manufacturer.ID, pr.pledge.Serial, pr.pledge.IDevID.Raw)
	if err != nil {
		return nil, store.Exchange{}, unavailable(err)
	}
	idevidSum := sha256.Sum256(pr.pledge.IDevID.Raw)
	ex := store.Exchange{PledgeID: p.ID, PledgeRequest: pr.body, Nonce: pr.checked.Request.Nonce, Replica: rg.cfg.ReplicaID, IDevIDSHA256: idevidSum[:]}
	if p, err = rg.decide(ctx, p); err != nil {
		return nil, ex, err
	}
	switch p.Decision {
	case store.DecisionDenied:
		ex.Outcome, ex.Reason = store.OutcomeDenied, "pledge denied"
		return nil, ex, rg.recordFailure(ctx, ex, &httpError{http.StatusForbidden, "pledge denied by the registrar's operator"})
	case store.DecisionPending:
		ex.Outcome, ex.Reason = store.OutcomeHeld, "awaiting approval"
		return nil, ex, rg.recordFailure(ctx, ex, &pendingError{http.StatusAccepted, "pledge awaits the operator's approval", rg.cfg.ApprovalRetryAfter, nil})
	}
	return p, ex, nil
}

// registrarVoucherRequest is RFC 8995 5.5: the registrar voucher-request
// wrapping the pledge's, signed by the RA certificate in the pledge
// request's format, its prior-signed-voucher-request the pledge's signed
// bytes as received (what the JWS and constrained-voucher drafts say for
// their formats too), with the certificates voucherRequestSigner chooses.
func (rg *Registrar) registrarVoucherRequest(ctx context.Context, pr *pledgeRequest) ([]byte, error) {
	rvr, err := voucher.NewRegistrarRequest(pr.body, pr.checked.Request, pr.pledge.IDevID, rg.now())
	if err != nil {
		return nil, voucherError(err)
	}
	signed, err := rg.voucherRequestSigner(ctx, pr).SignVoucherRequestAs(pr.format, rvr)
	if err != nil {
		return nil, fmt.Errorf("signing the registrar voucher-request: %w", err)
	}
	return signed, nil
}

// relayToMASA is RFC 8995 5.5.1-5.6: the registrar voucher-request goes
// to the MASA the IDevID names (or the one configured for its
// manufacturer), asking for a voucher in the pledge's format, the MASA's
// answer is mapped to the pledge's (recordMASAFailure), a voucher is read
// as the pledge will read it, and the exchange and the pledge's state are
// recorded. A COSE voucher reaches the pledge without the MASA's x5bag or
// x5chain (the constrained-voucher draft: the registrar removes them; the
// pledge holds the MASA's certificate); the exchange keeps the MASA's
// bytes as they came.
func (rg *Registrar) relayToMASA(ctx context.Context, pr *pledgeRequest, p *store.Pledge, ex store.Exchange) ([]byte, error) {
	masaURL := pr.pledge.Manufacturer.MASAURL
	if masaURL == "" {
		var err error
		if masaURL, err = voucher.MASAURL(pr.pledge.IDevID); err != nil {
			ex.Outcome, ex.Reason = store.OutcomeMASARefused, "no MASA URL"
			return nil, rg.recordFailure(ctx, ex, &httpError{http.StatusForbidden, "IDevID names no MASA and none is configured for its manufacturer"})
		}
	}
	if err := rg.state.SetState(ctx, p.ID, store.StateVoucherRequested); err != nil {
		return nil, unavailable(err)
	}
	signed, err := rg.masa.RequestVoucher(ctx, masaURL, pr.pledge.Manufacturer.MASA, ex.RegistrarRequest, pr.format, pr.answer)
	if err != nil {
		return nil, rg.recordMASAFailure(ctx, ex, err)
	}
	relayed, err := relayable(signed, pr.answer, pr.pledge.Serial, pr.checked.Request.Nonce)
	if err != nil {
		ex.Outcome, ex.Reason, ex.Voucher = store.OutcomeRejected, err.Error(), signed
		return nil, rg.recordFailure(ctx, ex, &httpError{http.StatusBadGateway, "MASA returned an unusable voucher: " + err.Error()})
	}
	ex.Voucher, ex.Outcome, ex.MASAStatus = signed, store.OutcomeIssued, http.StatusOK
	rg.metrics.exchanges.WithLabelValues(string(ex.Outcome)).Inc()
	if _, err := rg.state.RecordIssued(ctx, ex); err != nil {
		return nil, unavailable(err)
	}
	return relayed, nil
}

// relayable checks the MASA's voucher (checkVoucherFor) and returns what
// the pledge gets: the same bytes, or for COSE the voucher with its
// unprotected certificates removed (voucher.StripCOSECerts).
func relayable(signed []byte, f voucher.Format, serial, nonce string) ([]byte, error) {
	if err := checkVoucherFor(signed, f, serial, nonce); err != nil {
		return nil, err
	}
	if f != voucher.FormatCOSE {
		return signed, nil
	}
	return voucher.StripCOSECerts(signed)
}

// decide applies the approval mode to a pledge still pending.
func (rg *Registrar) decide(ctx context.Context, p *store.Pledge) (*store.Pledge, error) {
	if p.Decision != store.DecisionPending {
		return p, nil
	}
	approve := false
	switch rg.cfg.Approval {
	case ApprovalAuto:
		approve = true
	case ApprovalAllowList:
		ok, err := rg.state.Allowed(ctx, p.ManufacturerID, p.Serial)
		if err != nil {
			return nil, unavailable(err)
		}
		approve = ok
	}
	if !approve {
		return p, nil
	}
	decided, err := rg.state.Decide(ctx, []int64{p.ID}, store.DecisionApproved, "policy:"+rg.cfg.Approval)
	if err != nil {
		return nil, unavailable(err)
	}
	return &decided[0], nil
}

// checkVoucherFor reads the MASA's answer as the pledge will: a voucher
// of format f (the one asked for) for this serial number answering this
// nonce. Its signature is the pledge's to judge against its manufacturer
// anchor.
func checkVoucherFor(signed []byte, f voucher.Format, serial, nonce string) error {
	sc, err := voucher.ParseAs(f, signed)
	if err != nil {
		return err
	}
	v, err := sc.ParseVoucher()
	if err != nil {
		return err
	}
	if v.SerialNumber != serial {
		return fmt.Errorf("voucher names serial %q", v.SerialNumber)
	}
	if nonce != "" && v.Nonce != "" && v.Nonce != nonce {
		return errors.New("voucher answers another nonce")
	}
	return nil
}

// recordFailure records an exchange that ended without a voucher and
// returns the pledge's answer.
func (rg *Registrar) recordFailure(ctx context.Context, ex store.Exchange, answer error) error {
	rg.metrics.exchanges.WithLabelValues(string(ex.Outcome)).Inc()
	if _, err := rg.state.RecordExchange(ctx, ex); err != nil {
		return unavailable(err)
	}
	return answer
}

// recordMASAFailure maps a MASA failure to the pledge's answer (RFC 8995
// 5.6): a pending decision is 202 with the MASA's Retry-After, a busy MASA
// (503 with Retry-After) is 503 with it, a 4xx refusal keeps its status,
// other answers are 502, and a MASA no attempt reached is 503 with the
// configured Retry-After. A request the pledge abandoned (context
// cancelled) is neither answered nor recorded.
func (rg *Registrar) recordMASAFailure(ctx context.Context, ex store.Exchange, err error) error {
	var me *masaError
	switch {
	case errors.As(err, &me) && me.status == http.StatusAccepted:
		ex.Outcome, ex.MASAStatus, ex.Reason = store.OutcomeMASAPending, me.status, me.reason
		return rg.recordFailure(ctx, ex, &pendingError{http.StatusAccepted, "MASA decision pending", me.retryAfter, nil})
	case errors.As(err, &me) && me.retryAfter > 0:
		ex.Outcome, ex.MASAStatus, ex.Reason = store.OutcomeMASAUnreachable, me.status, me.reason
		return rg.recordFailure(ctx, ex, &pendingError{http.StatusServiceUnavailable, "MASA busy: " + me.reason, me.retryAfter, err})
	case errors.As(err, &me):
		ex.Outcome, ex.MASAStatus, ex.Reason = store.OutcomeMASARefused, me.status, me.reason
		status := me.status
		if status < 400 || status >= 500 {
			status = http.StatusBadGateway
		}
		return rg.recordFailure(ctx, ex, &httpError{status, "MASA refused: " + me.reason})
	case errors.Is(err, context.Canceled):
		return err
	}
	ex.Outcome, ex.Reason = store.OutcomeMASAUnreachable, err.Error()
	rg.log.Warn("MASA unreachable", "err", err)
	return rg.recordFailure(ctx, ex, &pendingError{http.StatusServiceUnavailable, "manufacturer's MASA unreachable; try again later", rg.cfg.MASARetryAfter, err})
}

// voucherError gives a pkg/voucher failure its RFC 8995 status.
func voucherError(err error) error {
	var ve *voucher.Error
	if errors.As(err, &ve) {
		return &httpError{ve.StatusCode(), ve.Error()}
	}
	return &httpError{http.StatusBadRequest, err.Error()}
}

func serialSource(field string) voucher.SerialSource {
	switch field {
	case store.SerialFieldHardwareModuleName:
		return voucher.SerialFromHardwareModuleName
	case store.SerialFieldCommonName:
		return voucher.SerialFromCommonName
	}
	return voucher.SerialFromX520
}
