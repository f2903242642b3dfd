package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// TestOnboardingThroughNginx: pledges onboard through a real nginx that
// terminates TLS and balances round-robin over two replicas, in every ATLS
// mode, and directly over mutual TLS.
func TestOnboardingThroughNginx(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	ngx, err := sandbox.StartNginx(ctx, d.Publics)
	if err != nil {
		t.Fatal(err)
	}
	defer ngx.Stop()
	for i, mode := range pledge.HTTPModes {
		for j := range 2 {
			serial := fmt.Sprintf("NGX-%d-%d", i, j)
			idevid, err := d.NewDevice(ctx, serial, true)
			if err != nil {
				t.Fatal(err)
			}
			cfg := d.PledgeConfig(mode, idevid)
			if mode != pledge.ModeDirect {
				cfg.RegistrarURL, cfg.HTTP = ngx.URL, ngx.Client()
			}
			res, err := pledge.Onboard(ctx, cfg)
			if err != nil {
				t.Fatalf("%s through nginx: %v", mode, err)
			}
			if res.Certificate.Subject.SerialNumber != serial {
				t.Fatalf("%s: certificate for %v", mode, res.Certificate.Subject)
			}
		}
	}
	if d.LBRequests.Load() != 0 {
		t.Fatal("requests went to the in-process balancer, not nginx")
	}
}
