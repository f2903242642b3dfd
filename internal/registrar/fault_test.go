package registrar_test

import (
	"context"
	"crypto/tls"
	"errors"
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
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	cluster := testpg.SharedCluster(t)
	ctx := context.Background()
	before := e.newDevice("PG-BEFORE", true)
	if _, perr := onboardErr(t, e.pledgeConfig(pledge.ModeATLSOSCORE, before)); perr != nil {
		t.Fatal(perr)
	}
	idevids := map[string]tls.Certificate{}
	for _, mode := range pledge.Modes {
		idevids[mode] = e.newDevice("PG-"+mode, true)
	}
	if err := cluster.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			cluster.Start(context.Background())
		}
	})
	for _, mode := range pledge.Modes {
		cfg := e.pledgeConfig(mode, idevids[mode])
		cfg.MaxRetries = 1
		_, err := pledge.Onboard(ctx, cfg)
		var pe *pledge.Error
		var se *atls.StatusError
		switch {
		case errors.As(err, &pe) && pe.Status == http.StatusServiceUnavailable && pe.Retryable:
		case errors.As(err, &se) && se.StatusCode == http.StatusServiceUnavailable && se.RetryAfter > 0:
		default:
			t.Fatalf("%s with the database down: %v", mode, err)
		}
	}
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	for _, mode := range pledge.Modes {
		if _, perr := onboardErr(t, e.pledgeConfig(mode, idevids[mode])); perr != nil {
			t.Fatalf("%s after the restart: %v", mode, perr)
		}
	}
	p, ex, certs := e.counts("PG-BEFORE")
	if p == nil || len(ex) != 1 || certs != 1 {
		t.Fatalf("records from before the outage: %+v, %d exchanges, %d certificates", p, len(ex), certs)
	}
}
