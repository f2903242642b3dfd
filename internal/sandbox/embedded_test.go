package sandbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/pkg/atls"
)

// TestEmbeddedUnderLoad onboards devices sixteen at a time, in every mode
// (coap-oscore through the replica's CoAP listener),
// through one registrar and a MASA on the embedded SQLite store (no
// PostgreSQL): every device onboards at its first attempt, with exactly one
// certificate, one issued exchange and an enrolled pledge. Concurrent
// writers queue on SQLite's write lock instead of failing.
func TestEmbeddedUnderLoad(t *testing.T) {
	ctx := context.Background()
	d, err := sandbox.Start(ctx, sandbox.Options{Embedded: true, CoAP: true, RateLimit: atls.RateLimit{PerSecond: -1}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Pool() != nil || len(d.Replicas) != 1 {
		t.Fatalf("embedded sandbox: pool %v, %d replicas", d.Pool(), len(d.Replicas))
	}
	const n, concurrency = 64, 16
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		serial := fmt.Sprintf("LITE-%03d", i)
		idevid, err := d.NewDevice(ctx, serial, true)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cfg := d.PledgeConfig(pledge.Modes[i%len(pledge.Modes)], idevid)
			res, err := pledge.Onboard(ctx, cfg)
			if err != nil {
				errs <- fmt.Errorf("%s (%s): %w", serial, cfg.Mode, err)
				return
			}
			if res.Certificate.Subject.SerialNumber != serial {
				errs <- fmt.Errorf("%s got a certificate for %v", serial, res.Certificate.Subject)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	db := d.DB()
	for table, want := range map[string]int{
		"certificates": n,
		"(SELECT DISTINCT pledge_id FROM certificates) c": n,
		"pledges WHERE state = 'enrolled'":                n,
		"voucher_exchanges WHERE outcome = 'issued'":      n,
	} {
		if got := testkit.Count(t, db, table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
	// The embedded store is one process's: a second registrar is refused.
	if _, err := sandbox.Start(ctx, sandbox.Options{Embedded: true, Replicas: 2}); err == nil {
		t.Error("an embedded sandbox with two replicas started")
	}
}
