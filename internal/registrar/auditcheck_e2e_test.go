package registrar_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// The registrar's check of the MASA audit log (RFC 8995 5.8), against the
// real MASA of a whole deployment: in each mode, a device sold on by a
// prior owner (the MASA issued that owner a voucher first) and a new one.

// auditEnv is env with an audit-log policy and a count of the audit-log
// requests the MASA served.
type auditEnv struct {
	*env
	logRequests atomic.Int64
	failLog     atomic.Bool // the MASA's audit-log resource answers 503
}

func newAuditEnv(t *testing.T, policy registrar.AuditLogPolicy) *auditEnv {
	t.Helper()
	ae := &auditEnv{}
	d, err := sandbox.Start(context.Background(), sandbox.Options{
		MASADatabaseURL:      testpg.Database(t),
		RegistrarDatabaseURL: testpg.Database(t),
		Manufacturer:         "Test Manufacturer",
		AuditLog:             policy,
		MASAMiddleware: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == voucher.PathRequestAuditLog {
					ae.logRequests.Add(1)
					if ae.failLog.Load() {
						http.Error(w, "MASA busy, retry later", http.StatusServiceUnavailable)
						return
					}
				}
				h.ServeHTTP(w, r)
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	ae.env = &env{Deployment: d, t: t}
	return ae
}

// priorOwned is a device the MASA sold to prior.example first, whose
// registrar obtained a voucher for it, and then to this deployment's
// domain. It returns the device and the prior domain's domainID as the
// MASA logs it.
func (e *auditEnv) priorOwned(t *testing.T, serial string) (tls.Certificate, string) {
	t.Helper()
	ctx := context.Background()
	dev := e.newDevice(serial, false)
	caTmpl := testkit.CATemplate("prior.example domain CA")
	caTmpl.SerialNumber = big.NewInt(1)
	ca, caKey := testkit.Issue(t, caTmpl, nil, nil)
	ra, raKey := testkit.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "registrar.prior.example"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}}, ca, caKey)
	prior, err := e.MASA.CreateOwner(ctx, "prior.example", ca.Raw, "sales")
	if err != nil {
		t.Fatal(err)
	}
	sell := func(owner int64) {
		if _, err := e.MASA.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{serial}}, owner, "sales"); err != nil {
			t.Fatal(err)
		}
	}
	sell(prior.ID)
	// The prior owner's registrar onboards the device: the pledge's
	// request pins it, it wraps it, the MASA issues and logs a voucher.
	now := time.Now().UTC().Truncate(time.Second)
	pr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: serial, Nonce: "prior-" + serial, RegistrarCert: ra, CreatedOn: now})
	if err != nil {
		t.Fatal(err)
	}
	pvr, err := (&voucher.Signer{Cert: dev.Leaf, Key: dev.PrivateKey.(crypto.Signer)}).SignVoucherRequest(pr)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := voucher.NewRegistrarRequest(pvr, pr, dev.Leaf, now)
	if err != nil {
		t.Fatal(err)
	}
	rvr, err := (&voucher.Signer{Cert: ra, Key: raKey, Chain: []*x509.Certificate{ca}}).SignVoucherRequest(rr)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, e.MASAServer.URL+voucher.PathRequestVoucher, bytes.NewReader(rvr))
	req.Header.Set("Content-Type", voucher.MediaTypeVoucherCMS)
	resp, err := e.MASAServer.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the prior owner's voucher: %d %s", resp.StatusCode, body)
	}
	sell(e.OwnerID)
	return dev, base64.StdEncoding.EncodeToString(ca.SubjectKeyId)
}

// checks are the pledge's recorded audit-log checks.
func (e *auditEnv) checks(t *testing.T, serial string) (*store.Pledge, []store.AuditCheck) {
	t.Helper()
	p, err := e.Store.FindPledge(context.Background(), e.ManufacturerID, serial)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := e.Store.ListAuditChecks(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p, cs
}

// auditMetric sums landfall_registrar_audit_log_checks_total{mode,verdict}
// over the replicas.
func (e *auditEnv) auditMetric(t *testing.T, mode, verdict string) int {
	t.Helper()
	n := 0
	prefix := `landfall_registrar_audit_log_checks_total{mode="` + mode + `",verdict="` + verdict + `"} `
	for _, rg := range e.Replicas {
		rec := httptest.NewRecorder()
		rg.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				var f float64
				if err := json.Unmarshal([]byte(v), &f); err != nil {
					t.Fatal(err)
				}
				n += int(f)
			}
		}
	}
	return n
}

// onboard runs the pledge once, with no retries.
func (e *auditEnv) onboard(t *testing.T, dev tls.Certificate) *pledge.Error {
	t.Helper()
	cfg := e.pledgeConfig(pledge.ModeATLSCOSE, dev)
	cfg.MaxRetries = 1
	_, perr := onboardErr(t, cfg)
	return perr
}

// Off, the production default: no audit-log request reaches the MASA and
// nothing is recorded, even for a device with a prior owner.
func TestAuditLogCheckOff(t *testing.T) {
	e := newAuditEnv(t, registrar.AuditLogPolicy{})
	dev, _ := e.priorOwned(t, "AL-OFF-1")
	if perr := e.onboard(t, dev); perr != nil {
		t.Fatal(perr)
	}
	p, cs := e.checks(t, "AL-OFF-1")
	if p.State != store.StateEnrolled || len(cs) != 0 {
		t.Fatalf("pledge %s, %d checks", p.State, len(cs))
	}
	if n := e.logRequests.Load(); n != 0 {
		t.Fatalf("%d audit-log requests reached the MASA in mode off", n)
	}
	if e.Replicas[0].Config().AuditLog.Mode != registrar.AuditLogOff {
		t.Fatalf("mode %q", e.Replicas[0].Config().AuditLog.Mode)
	}
}

// Warn: the device with a prior owner onboards, its flagged verdict is
// recorded with the prior domain named, counted and shown by the admin
// API; a new device passes.
func TestAuditLogCheckWarn(t *testing.T) {
	e := newAuditEnv(t, registrar.AuditLogPolicy{Mode: registrar.AuditLogWarn})
	dev, priorID := e.priorOwned(t, "AL-WARN-1")
	if perr := e.onboard(t, dev); perr != nil {
		t.Fatal(perr)
	}
	p, cs := e.checks(t, "AL-WARN-1")
	if p.State != store.StateEnrolled {
		t.Fatalf("state %s", p.State)
	}
	if len(cs) != 1 || cs[0].Mode != "warn" || cs[0].Verdict != store.AuditVerdictFlagged || cs[0].Vouchers != 2 ||
		len(cs[0].Findings) != 1 || cs[0].Findings[0].Kind != "prior-owner" || !strings.Contains(cs[0].Findings[0].Detail, priorID) {
		t.Fatalf("checks %+v", cs)
	}
	if certs, _ := e.Store.ListCertificates(context.Background(), p.ID); len(certs) != 1 {
		t.Fatalf("%d certificates", len(certs))
	}
	if perr := e.onboard(t, e.newDevice("AL-WARN-2", true)); perr != nil {
		t.Fatal(perr)
	}
	if _, cs := e.checks(t, "AL-WARN-2"); len(cs) != 1 || cs[0].Verdict != store.AuditVerdictPass || cs[0].Vouchers != 1 || len(cs[0].Findings) != 0 {
		t.Fatalf("new device: %+v", cs)
	}
	if n := e.logRequests.Load(); n != 2 {
		t.Errorf("%d audit-log requests, want 2", n)
	}
	if f, ok := e.auditMetric(t, "warn", "flagged"), e.auditMetric(t, "warn", "pass"); f != 1 || ok != 1 {
		t.Errorf("metrics: %d flagged, %d pass", f, ok)
	}
	// The admin API's pledge record, for an auditor.
	d := e.adminPledge(t, p.ID, e.token(t, store.RoleAuditor))
	if d.AuditLog == nil || d.AuditLog.Verdict != "flagged" || d.AuditLog.Mode != "warn" || d.AuditLog.Overridden ||
		len(d.AuditLogChecks) != 1 || !strings.Contains(d.AuditLog.Reason, priorID) {
		t.Fatalf("admin record %+v", d.AuditLog)
	}
}

// Enforce: the device with a prior owner gets its voucher but its
// enrollment is refused with 403 and the reason, and no certificate is
// issued; an auditor cannot override it; an operator's approval does, and
// the pledge then onboards, checked again. A new device is not held up.
func TestAuditLogCheckEnforce(t *testing.T) {
	e := newAuditEnv(t, registrar.AuditLogPolicy{Mode: registrar.AuditLogEnforce})
	ctx := context.Background()
	if perr := e.onboard(t, e.newDevice("AL-ENF-NEW", true)); perr != nil {
		t.Fatalf("new device: %v", perr)
	}
	dev, priorID := e.priorOwned(t, "AL-ENF-1")
	perr := e.onboard(t, dev)
	if perr == nil || perr.Status != http.StatusForbidden || perr.Retryable || !strings.Contains(perr.Err.Error(), "audit log") ||
		!strings.Contains(perr.Err.Error(), priorID) {
		t.Fatalf("prior-owned device: %v", perr)
	}
	p, cs := e.checks(t, "AL-ENF-1")
	certs, _ := e.Store.ListCertificates(ctx, p.ID)
	if p.State != store.StateVoucherAccepted || len(certs) != 0 || len(cs) != 1 || cs[0].Verdict != store.AuditVerdictFlagged || cs[0].Mode != "enforce" {
		t.Fatalf("after refusal: state %s, %d certificates, checks %+v", p.State, len(certs), cs)
	}
	if e.auditMetric(t, "enforce", "flagged") != 1 || e.auditMetric(t, "enforce", "pass") != 1 {
		t.Error("metrics do not count the verdicts")
	}

	// An auditor's approval is refused and changes nothing.
	if status := e.approve(t, p.ID, e.token(t, store.RoleAuditor)); status != http.StatusForbidden {
		t.Fatalf("auditor's approval: %d", status)
	}
	if again := e.onboard(t, dev); again == nil || again.Status != http.StatusForbidden {
		t.Fatalf("after the auditor: %v", again)
	}
	p, cs = e.checks(t, "AL-ENF-1")
	if certs, _ := e.Store.ListCertificates(ctx, p.ID); len(certs) != 0 || p.DecidedBy != "policy:auto" {
		t.Fatalf("after the auditor: %d certificates, decided by %q", len(certs), p.DecidedBy)
	}
	d := e.adminPledge(t, p.ID, e.token(t, store.RoleAuditor))
	if d.AuditLog == nil || d.AuditLog.Verdict != "flagged" || d.AuditLog.Overridden || len(d.AuditLogChecks) != len(cs) {
		t.Fatalf("admin record %+v", d.AuditLog)
	}

	// The operator approves: the same history no longer refuses.
	if status := e.approve(t, p.ID, e.token(t, store.RoleOperator)); status != http.StatusOK {
		t.Fatalf("operator's approval: %d", status)
	}
	if d := e.adminPledge(t, p.ID, e.token(t, store.RoleAuditor)); d.AuditLog == nil || !d.AuditLog.Overridden {
		t.Fatalf("admin record after approval %+v", d.AuditLog)
	}
	if perr := e.onboard(t, dev); perr != nil {
		t.Fatalf("after approval: %v", perr)
	}
	p, cs = e.checks(t, "AL-ENF-1")
	certs, _ = e.Store.ListCertificates(ctx, p.ID)
	if p.State != store.StateEnrolled || len(certs) != 1 || cs[len(cs)-1].Verdict != store.AuditVerdictFlagged {
		t.Fatalf("after approval: state %s, %d certificates, last check %+v", p.State, len(certs), cs[len(cs)-1])
	}
}

// Enforce with no log to judge (the MASA answers its audit-log resource
// with 503): the verdict is error and EST is refused, fail closed; once
// the MASA answers again, the pledge's next voucher status checks again
// and it onboards. Warn lets the same pledge through.
func TestAuditLogCheckNoLog(t *testing.T) {
	for _, mode := range []registrar.AuditLogMode{registrar.AuditLogEnforce, registrar.AuditLogWarn} {
		t.Run(string(mode), func(t *testing.T) {
			e := newAuditEnv(t, registrar.AuditLogPolicy{Mode: mode})
			e.failLog.Store(true)
			dev := e.newDevice("AL-DOWN-1", true)
			perr := e.onboard(t, dev)
			p, cs := e.checks(t, "AL-DOWN-1")
			if len(cs) != 1 || cs[0].Verdict != store.AuditVerdictError || !strings.Contains(cs[0].Reason, "503") {
				t.Fatalf("checks %+v", cs)
			}
			certs, _ := e.Store.ListCertificates(context.Background(), p.ID)
			if mode == registrar.AuditLogWarn {
				if perr != nil || len(certs) != 1 {
					t.Fatalf("warn: %v, %d certificates", perr, len(certs))
				}
				return
			}
			if perr == nil || perr.Status != http.StatusForbidden || !strings.Contains(perr.Err.Error(), "could not be made") || len(certs) != 0 {
				t.Fatalf("enforce: %v, %d certificates", perr, len(certs))
			}
			e.failLog.Store(false)
			if perr := e.onboard(t, dev); perr != nil {
				t.Fatalf("with the log back: %v", perr)
			}
			if _, cs := e.checks(t, "AL-DOWN-1"); cs[len(cs)-1].Verdict != store.AuditVerdictPass {
				t.Fatalf("checks %+v", cs)
			}
			if e.auditMetric(t, "enforce", "error") != 1 {
				t.Error("the error verdict is not counted")
			}
		})
	}
}

// token is a fresh admin token of role.
func (e *auditEnv) token(t *testing.T, role store.Role) string {
	t.Helper()
	tok, err := e.Store.CreateToken(context.Background(), "t-"+string(role)+"-"+time.Now().Format("150405.000000000"), role, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// adminPledge is GET /api/v1/pledges/{id} on the first replica's admin
// listener.
func (e *auditEnv) adminPledge(t *testing.T, id int64, token string) admin.PledgeDetail {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.Admin[0].URL+"/api/v1/pledges/"+strconv.FormatInt(id, 10), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d admin.PledgeDetail
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET pledge: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// approve is POST /api/v1/pledges/{id}/approve; it returns the status.
func (e *auditEnv) approve(t *testing.T, id int64, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.Admin[0].URL+"/api/v1/pledges/"+strconv.FormatInt(id, 10)+"/approve", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
