package registrar_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestConstrainedOnboarding: a constrained pledge (pledge.Config
// .Constrained) onboards over atls-oscore through the load balancer and
// both replicas: a COSE voucher-request to /rv, CBOR /vs and /es, EST-coaps
// /crts, /att and /sen. The registrar records the exchange in COSE, both
// reports as JSON renderings of the CBOR the pledge sent, and one
// certificate, exactly as for the long-named resources.
func TestConstrainedOnboarding(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	cfg := e.pledgeConfig(pledge.ModeATLSOSCORE, e.newDevice("CBRSKI-1", true))
	cfg.Constrained = true
	res, err := pledge.Onboard(context.Background(), cfg)
	if err != nil {
		if res != nil {
			for _, s := range res.Steps {
				t.Logf("%-16s %v %s", s.Name, s.Err, s.Detail)
			}
		}
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		t.Logf("%-16s %s", s.Name, s.Detail)
	}
	if res.Certificate.Subject.SerialNumber != "CBRSKI-1" || len(res.CACerts) == 0 {
		t.Fatalf("certificate for %v, %d CA certificates", res.Certificate.Subject, len(res.CACerts))
	}
	p, exs, certs := e.counts("CBRSKI-1")
	if p.State != store.StateEnrolled || len(exs) != 1 || exs[0].Outcome != store.OutcomeIssued || certs != 1 {
		t.Fatalf("state %s, %d exchanges, %d certificates", p.State, len(exs), certs)
	}
	for what, b := range map[string][]byte{"pledge request": exs[0].PledgeRequest, "voucher": exs[0].Voucher} {
		if f, ok := voucher.DetectFormat(b); !ok || f != voucher.FormatCOSE {
			t.Fatalf("recorded %s is %v", what, f)
		}
	}
	reports, err := e.Store.ListTelemetry(context.Background(), p.ID)
	if err != nil || len(reports) != 2 {
		t.Fatalf("%d reports (%v)", len(reports), err)
	}
	for i, kind := range []string{store.TelemetryVoucherStatus, store.TelemetryEnrollStatus} {
		var body map[string]any
		if reports[i].Kind != kind || !reports[i].Status || json.Unmarshal(reports[i].Body, &body) != nil || body["version"] != 1.0 || body["status"] != true {
			t.Fatalf("report %d: %+v %s", i, reports[i], reports[i].Body)
		}
	}
	for _, s := range res.Steps {
		if s.Name == "requestvoucher" && !strings.Contains(s.Detail, "/rv") {
			t.Fatalf("the voucher came from elsewhere: %s", s.Detail)
		}
	}
}

// TestConstrainedHeldPledge: a pledge held for approval gets RFC 8995's
// 202 on /rv as OSCORE carries it, 5.03 with Max-Age (the draft: the 202
// retry is RFC 9148's delayed response), which the pledge retries as a
// 503 with Retry-After; the held exchange is recorded and nothing issued.
// Once approved it onboards with one certificate.
func TestConstrainedHeldPledge(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalManual})
	cfg := e.pledgeConfig(pledge.ModeATLSOSCORE, e.newDevice("CBRSKI-HOLD", true))
	cfg.Constrained = true
	cfg.MaxRetries = 1
	_, perr := onboardErr(t, cfg)
	if perr == nil || perr.Status != 503 || !perr.Retryable || perr.Step != "requestvoucher" {
		t.Fatalf("held pledge: %v", perr)
	}
	p, exs, certs := e.counts("CBRSKI-HOLD")
	if p.Decision != store.DecisionPending || len(exs) != 2 || exs[0].Outcome != store.OutcomeHeld || certs != 0 {
		t.Fatalf("held: %+v, %d exchanges, %d certificates", p, len(exs), certs)
	}
	if _, err := e.Store.Decide(context.Background(), []int64{p.ID}, store.DecisionApproved, "operator"); err != nil {
		t.Fatal(err)
	}
	if _, perr := onboardErr(t, cfg); perr != nil {
		t.Fatalf("after approval: %v", perr)
	}
	if p, _, certs := e.counts("CBRSKI-HOLD"); p.State != store.StateEnrolled || certs != 1 {
		t.Fatalf("after approval: %s, %d certificates", p.State, certs)
	}
}
