package registrar

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/landfall-io/landfall/internal/requestid"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// metrics are the replica's Prometheus metrics, served on the admin
// listener: device requests by route and status with their latency,
// voucher exchanges by outcome, certificates issued, and the ATLS session
// table.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	exchanges *prometheus.CounterVec
	issued    *prometheus.CounterVec
	// auditChecks counts MASA audit-log checks (RFC 8995 5.8) by mode and
	// verdict.
	auditChecks *prometheus.CounterVec
}

func newMetrics(rg *Registrar) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "landfall_registrar_requests_total", Help: "Device-facing requests by route and HTTP status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "landfall_registrar_request_seconds", Help: "Device-facing request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"route"}),
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "landfall_registrar_voucher_exchanges_total", Help: "Voucher exchanges by outcome.",
		}, []string{"outcome"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "landfall_registrar_certificates_issued_total", Help: "Domain certificates issued, by EST operation.",
		}, []string{"operation"}),
		auditChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "landfall_registrar_audit_log_checks_total", Help: "MASA audit-log checks (RFC 8995 5.8) by mode and verdict (pass, flagged, error).",
		}, []string{"mode", "verdict"}),
	}
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "landfall_registrar_atls_sessions", Help: "ATLS sessions this replica holds.",
	}, func() float64 { return float64(rg.atls.Stats().Sessions) })
	handshakes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "landfall_registrar_atls_handshakes", Help: "ATLS sessions of this replica still in handshake.",
	}, func() float64 { return float64(rg.atls.Stats().Handshakes) })
	m.reg.MustRegister(m.requests, m.latency, m.exchanges, m.issued, m.auditChecks, sessions, handshakes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// MetricsHandler serves the replica's metrics in the Prometheus format.
func (rg *Registrar) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(rg.metrics.reg, promhttp.HandlerOpts{})
}

// observe is the device routes' middleware: a request id (internal/
// requestid: X-Request-Id, or made; in the request's context), a
// structured log line per request, and metrics.
func (rg *Registrar) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = requestid.Assign(w, r)
		id := requestid.From(r.Context())
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			// EST's own router, handed every path under its prefix, routes
			// the full path again: chi joins the two patterns.
			route = strings.Replace(rc.RoutePattern(), enroll.DefaultPathPrefix+enroll.DefaultPathPrefix, enroll.DefaultPathPrefix, 1)
		}
		d := time.Since(start)
		rg.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		rg.metrics.latency.WithLabelValues(route).Observe(d.Seconds())
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		rg.log.Log(r.Context(), level, "device request", "request_id", id, "method", r.Method, "route", route,
			"status", rec.status, "duration_ms", d.Milliseconds(), "remote", r.RemoteAddr)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
