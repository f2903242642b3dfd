package registrar_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/pkg/atls"
)

// TestDatabaseRestart stops PostgreSQL under a running deployment: pledges
// get clear, retryable 503s meanwhile, in every mode; after the restart the
// same deployment (no process restarted) onboards them, and nothing
// recorded before the outage is lost.
func TestDatabaseRestart(t *testing.T) {
	logs := newLogCapture()
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto, logger: slog.New(logs)})
	cluster := testpg.SharedCluster(t)
	ctx := context.Background()
	before := e.newDevice("PG-BEFORE", true)
	if _, perr := onboardErr(t, e.pledgeConfig(pledge.ModeATLSOSCORE, before)); perr != nil {
		t.Fatal(perr)
	}
	idevids := map[string]tls.Certificate{}
	for _, mode := range pledge.HTTPModes {
		idevids[mode] = e.newDevice("PG-"+mode, true)
	}
	direct := e.newDevice("PG-DIRECT-RAW", true)
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			cluster.Start(context.Background())
		}
	})
	deviceRequestsDuringOutage(t, e, logs, "PG-DIRECT-RAW", direct)
	handshakes503 := 0
	for _, mode := range pledge.HTTPModes {
		cfg := e.pledgeConfig(mode, idevids[mode])
		cfg.MaxRetries = 1
		_, err := pledge.Onboard(ctx, cfg)
		var pe *pledge.Error
		var se *atls.StatusError
		switch {
		case errors.As(err, &se):
			// The ATLS layer answered: a flight forwarded to the
			// session's owner, which the registry cannot resolve.
			if se.StatusCode != http.StatusServiceUnavailable || se.RetryAfter <= 0 {
				t.Fatalf("%s: ATLS answered %d Retry-After %v with the database down, want 503 with Retry-After", mode, se.StatusCode, se.RetryAfter)
			}
			handshakes503++
		case errors.As(err, &pe) && pe.Status == http.StatusServiceUnavailable && pe.Retryable:
		default:
			t.Fatalf("%s with the database down: %v", mode, err)
		}
	}
	// The load balancer alternates between the replicas, so every ATLS
	// handshake (two flights at least) reaches the replica that does not
	// own its session.
	if handshakes503 != len(pledge.HTTPModes)-1 {
		t.Errorf("%d ATLS handshakes answered 503, want every ATLS mode's", handshakes503)
	}
	if rec := logs.find(map[string]string{"msg": "ATLS session owner unresolved", "err": "replica: resolve"}); rec == nil || rec["request_id"] == "" {
		t.Errorf("the cause of the ATLS 503s is not logged with a request id: %v", rec)
	}
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	for _, mode := range pledge.HTTPModes {
		if _, perr := onboardErr(t, e.pledgeConfig(mode, idevids[mode])); perr != nil {
			t.Fatalf("%s after the restart: %v", mode, perr)
		}
	}
	p, ex, certs := e.counts("PG-BEFORE")
	if p == nil || len(ex) != 1 || certs != 1 {
		t.Fatalf("records from before the outage: %+v, %d exchanges, %d certificates", p, len(ex), certs)
	}
}
