package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/requestid"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// DeviceOptions configures the device-facing handler.
type DeviceOptions struct {
	// MaxBody caps a voucher-request body; 64 KiB by default.
	MaxBody int64
	Logger  *slog.Logger
	Metrics *Metrics // optional
	// MaxInFlight caps concurrent device requests; more get 503 with
	// Retry-After. 256 by default.
	MaxInFlight int
}

type deviceAPI struct {
	svc *masa.Service
	opt DeviceOptions
}

// DeviceHandler serves the BRSKI endpoints the MASA offers registrars
// (RFC 8995 sections 5.5-5.8). Run it behind TLS with the MASA's own
// certificate; a registrar's TLS client certificate, when it sends one,
// reaches the service as its authentication.
func DeviceHandler(svc *masa.Service, opt DeviceOptions) http.Handler {
	if opt.MaxBody <= 0 {
		opt.MaxBody = 64 << 10
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 256
	}
	d := &deviceAPI{svc: svc, opt: opt}
	r := chi.NewRouter()
	r.Use(requestid.Middleware, limitInFlight(opt.MaxInFlight, opt.Logger))
	r.Post(voucher.PathRequestVoucher, opt.Metrics.instrument("requestvoucher", d.requestVoucher))
	r.Post(voucher.PathRequestAuditLog, opt.Metrics.instrument("requestauditlog", d.requestAuditLog))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, r, opt.Logger, masa.NotFound("no such endpoint"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, r, opt.Logger, &masa.Error{Status: http.StatusMethodNotAllowed, Reason: "method not allowed"})
	})
	return r
}

// readRequest applies the media-type and size rules shared by both
// endpoints: 415 for a body that is not a voucher-request in a format the
// MASA reads (CMS, JWS or COSE, by its Content-Type), 406 when the client
// accepts nothing the endpoint returns (answer negotiates it), 413 for an
// oversized body. Nothing is read or stored before the headers pass.
func (d *deviceAPI) readRequest(w http.ResponseWriter, r *http.Request, answer func(in *masa.VoucherRequest, accept string) error) (masa.VoucherRequest, error) {
	f, err := voucher.FormatOfMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return masa.VoucherRequest{}, &masa.Error{Status: http.StatusUnsupportedMediaType,
			Reason: "Content-Type must be one of " + voucher.MediaTypes(voucher.Formats)}
	}
	in := masa.VoucherRequest{Format: f}
	if err := answer(&in, r.Header.Get("Accept")); err != nil {
		return masa.VoucherRequest{}, err
	}
	if in.Body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, d.opt.MaxBody)); err != nil {
		return masa.VoucherRequest{}, err
	}
	if r.TLS != nil {
		in.PeerCertificates = r.TLS.PeerCertificates
	}
	return in, nil
}

// voucherAnswer negotiates the voucher's format (RFC 8995 5.5, 5.6): the
// request's own unless Accept names another this MASA signs; 406 when
// Accept names none of them.
func (d *deviceAPI) voucherAnswer(in *masa.VoucherRequest, accept string) error {
	offers := d.svc.VoucherFormats()
	f, ok := voucher.NegotiateFormat(accept, in.Format, offers)
	if !ok {
		return &masa.Error{Status: http.StatusNotAcceptable, Reason: "this MASA returns only " + voucher.MediaTypes(offers) + " vouchers; Accept names none of them"}
	}
	in.Answer = f
	return nil
}

// auditLogAnswer: the audit log is JSON whatever the request's format.
func auditLogAnswer(_ *masa.VoucherRequest, accept string) error {
	if !accepts(accept, MediaJSON) {
		return &masa.Error{Status: http.StatusNotAcceptable, Reason: "this endpoint returns only " + MediaJSON}
	}
	return nil
}

// requestVoucher is POST /.well-known/brski/requestvoucher (RFC 8995 5.5, 5.6).
func (d *deviceAPI) requestVoucher(w http.ResponseWriter, r *http.Request) {
	in, err := d.readRequest(w, r, d.voucherAnswer)
	if err != nil {
		writeText(w, r, d.opt.Logger, err)
		return
	}
	resp, err := d.svc.RequestVoucher(r.Context(), in)
	if err != nil {
		writeText(w, r, d.opt.Logger, err)
		return
	}
	w.Header().Set("Content-Type", resp.Format.MediaType())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.Voucher)
}

// requestAuditLog is POST /.well-known/brski/requestauditlog (RFC 8995 5.7, 5.8).
func (d *deviceAPI) requestAuditLog(w http.ResponseWriter, r *http.Request) {
	in, err := d.readRequest(w, r, auditLogAnswer)
	if err != nil {
		writeText(w, r, d.opt.Logger, err)
		return
	}
	log, err := d.svc.RequestAuditLog(r.Context(), in)
	if err != nil {
		writeText(w, r, d.opt.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, log)
}

// limitInFlight answers 503 with Retry-After when n requests are already
// being served, so that a flood queues in no one's memory.
func limitInFlight(n int, log *slog.Logger) func(http.Handler) http.Handler {
	sem := make(chan struct{}, n)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				next.ServeHTTP(w, r)
			default:
				writeText(w, r, log, &masa.Error{Status: http.StatusServiceUnavailable, Reason: "MASA busy, retry later", Retry: time.Second})
			}
		})
	}
}
