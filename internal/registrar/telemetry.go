package registrar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// maxTelemetrySize bounds a status report.
const maxTelemetrySize = 16 << 10

// statusReport is the telemetry of RFC 8995 5.7 (voucher status) and 5.9.4
// (enrollment status): version, status, reason, reason-context.
type statusReport struct {
	Version       int             `json:"version"`
	Status        bool            `json:"status"`
	Reason        string          `json:"reason,omitempty"`
	ReasonContext json.RawMessage `json:"reason-context,omitempty"`
}

// parseStatusReport reads a report whose keys may come in any case and
// returns it with its canonical lower-case JSON rendering.
func parseStatusReport(body []byte) (*statusReport, []byte, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, nil, fmt.Errorf("status report is not a JSON object: %v", err)
	}
	lower := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		lk := strings.ToLower(k)
		if _, dup := lower[lk]; dup {
			return nil, nil, fmt.Errorf("status report repeats %q", lk)
		}
		lower[lk] = v
	}
	if _, ok := lower["status"]; !ok {
		return nil, nil, errors.New(`status report lacks "status"`)
	}
	canonical, err := json.Marshal(lower)
	if err != nil {
		return nil, nil, err
	}
	var r statusReport
	dec := json.NewDecoder(strings.NewReader(string(canonical)))
	if err := dec.Decode(&r); err != nil {
		return nil, nil, fmt.Errorf("status report: %v", err)
	}
	if r.Version != 0 && r.Version != 1 {
		return nil, nil, fmt.Errorf("status report version %d is not 1", r.Version)
	}
	return &r, canonical, nil
}

// voucherStatus is RFC 8995 5.7: the pledge says whether it accepted the
// voucher. A pledge that accepted may enroll.
func (rg *Registrar) voucherStatus(w http.ResponseWriter, r *http.Request) {
	rg.telemetry(w, r, store.TelemetryVoucherStatus, store.StateVoucherAccepted, store.StateVoucherRejected)
}

// enrollStatus is RFC 8995 5.9.4: the pledge says whether it installed its
// domain certificate.
func (rg *Registrar) enrollStatus(w http.ResponseWriter, r *http.Request) {
	rg.telemetry(w, r, store.TelemetryEnrollStatus, store.StateEnrolled, store.StateEnrollFailed)
}

func (rg *Registrar) telemetry(w http.ResponseWriter, r *http.Request, kind string, ok, failed store.State) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		rg.fail(w, r, &httpError{http.StatusUnsupportedMediaType, "status reports are application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTelemetrySize))
	if err != nil {
		rg.fail(w, r, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("status report over %d bytes", maxTelemetrySize)})
		return
	}
	report, canonical, err := parseStatusReport(body)
	if err != nil {
		rg.fail(w, r, &httpError{http.StatusBadRequest, err.Error()})
		return
	}
	pledge, err := rg.identify(r)
	if err != nil {
		rg.fail(w, r, err)
		return
	}
	// A report is telemetry (RFC 8995 5.7, 5.9.4), never an authorization:
	// it is recorded whatever it says, but moves the pledge on only from
	// the states it reports on. "Accepted" without a voucher issued, or
	// "installed" without a certificate issued, changes nothing. A report
	// that leaves the state as it is (the pledge enrolled when its
	// certificate was recorded, then reports it installed) writes no state.
	next := failed
	if report.Status {
		next = ok
	}
	p, err := rg.state.RecordReport(r.Context(), pledge.Manufacturer.ID, pledge.Serial, store.Report{
		Kind: kind, Status: report.Status, Reason: report.Reason, Body: canonical, From: reportsMoveFrom(kind), Next: next})
	if errors.Is(err, store.ErrNotFound) {
		rg.fail(w, r, &httpError{http.StatusNotFound, "no voucher exchange with this pledge"})
		return
	}
	if err != nil {
		rg.fail(w, r, unavailable(err))
		return
	}
	moves := slices.Contains(reportsMoveFrom(kind), p.State)
	// RFC 8995 5.8: a voucher the pledge accepted is the moment to read
	// the MASA's audit log of the device. Each acceptance reported checks
	// again; the pledge's answer is 200 whatever the log says, and the
	// verdict takes effect at EST (auditLogGate).
	if kind == store.TelemetryVoucherStatus && report.Status && moves {
		rg.checkAuditLog(r.Context(), pledge, p)
	}
	w.WriteHeader(http.StatusOK)
}

// reportsMoveFrom lists the states a status report of kind may move a
// pledge from: a voucher status only answers an issued voucher (and may
// correct an earlier report before enrollment), an enrollment status only
// answers an issued certificate.
func reportsMoveFrom(kind string) []store.State {
	switch kind {
	case store.TelemetryVoucherStatus:
		return []store.State{store.StateVoucherIssued, store.StateVoucherAccepted, store.StateVoucherRejected}
	case store.TelemetryEnrollStatus:
		return []store.State{store.StateEnrolled, store.StateEnrollFailed}
	}
	return nil
}
