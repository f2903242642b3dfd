package registrar_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testpg"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// env is a whole deployment (internal/sandbox) on fresh databases: the real
// MASA, two registrar replicas sharing one database, and a TLS-terminating
// round-robin load balancer in front of them.
type env struct {
	*sandbox.Deployment
	t testing.TB
}

type envOptions struct {
	approval string
	logger   *slog.Logger // nil: discarded
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	d, err := sandbox.Start(context.Background(), sandbox.Options{
		MASADatabaseURL:      testpg.Database(t),
		RegistrarDatabaseURL: testpg.Database(t),
		Approval:             o.approval,
		Manufacturer:         "Test Manufacturer",
		Logger:               o.logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return &env{Deployment: d, t: t}
}

func (e *env) newDevice(serial string, owned bool) tls.Certificate {
	e.t.Helper()
	c, err := e.NewDevice(context.Background(), serial, owned)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// pledgeConfig retries at once: tests do not wait out Retry-After.
func (e *env) pledgeConfig(mode string, idevid tls.Certificate) pledge.Config {
	cfg := e.PledgeConfig(mode, idevid)
	cfg.Sleep = func(time.Duration) <-chan time.Time { return time.After(0) }
	return cfg
}
