package registrar_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestOnboardingInEveryMode: pledges complete voucher and enrollment over
// direct TLS and over ATLS in each mode, through the round-robin
// TLS-terminating load balancer in front of two replicas sharing one
// database, with the real MASA.
func TestOnboardingInEveryMode(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	ctx := context.Background()
	for i, mode := range pledge.HTTPModes {
		t.Run(mode, func(t *testing.T) {
			serial := fmt.Sprintf("LF-%04d", i)
			res, err := pledge.Onboard(ctx, e.pledgeConfig(mode, e.newDevice(serial, true)))
			if err != nil {
				for _, s := range res.Steps {
					t.Logf("%-16s %v %s", s.Name, s.Err, s.Detail)
				}
				t.Fatal(err)
			}
			if res.Certificate.Subject.SerialNumber != serial {
				t.Fatalf("certificate subject %v", res.Certificate.Subject)
			}
			p, err := e.Store.FindPledge(ctx, e.ManufacturerID, serial)
			if err != nil {
				t.Fatal(err)
			}
			if p.Decision != store.DecisionApproved || p.State != store.StateEnrolled {
				t.Fatalf("pledge %+v", p)
			}
			ex, _ := e.Store.ListExchanges(ctx, p.ID)
			certs, _ := e.Store.ListCertificates(ctx, p.ID)
			tel, _ := e.Store.ListTelemetry(ctx, p.ID)
			if len(ex) != 1 || ex[0].Outcome != store.OutcomeIssued || len(certs) != 1 || len(tel) != 2 {
				t.Fatalf("recorded %d exchanges (%v), %d certificates, %d reports", len(ex), ex, len(certs), len(tel))
			}
		})
	}
	// The replicas counted what they did.
	var issued float64
	var metrics strings.Builder
	for _, rg := range e.Replicas {
		rec := httptest.NewRecorder()
		rg.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		metrics.WriteString(rec.Body.String())
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(line, `landfall_registrar_voucher_exchanges_total{outcome="issued"}`) {
				var v float64
				fmt.Sscanf(strings.Fields(line)[1], "%g", &v)
				issued += v
			}
		}
	}
	if issued != float64(len(pledge.HTTPModes)) {
		t.Fatalf("replicas counted %v issued vouchers, want %d", issued, len(pledge.HTTPModes))
	}
	// Requests are counted by their route as the pledge names it.
	for _, route := range []string{voucher.PathRequestVoucher, "/.well-known/est/simpleenroll"} {
		if !strings.Contains(metrics.String(), `route="`+route+`"`) {
			t.Errorf("no request counted on route %s", route)
		}
	}
	if strings.Contains(metrics.String(), "/.well-known/est/.well-known") {
		t.Error("EST routes are labelled with their prefix twice")
	}
	if e.LBRequests.Load() < 8 {
		t.Fatalf("the load balancer saw only %d requests", e.LBRequests.Load())
	}
}
