package sandbox_test

import (
	"context"
	"testing"

	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testpg"
)

// startDeployment starts a sandbox deployment with o, on fresh databases
// of the test cluster where o names none, and closes it when the test and
// its subtests end.
func startDeployment(t *testing.T, o sandbox.Options) *sandbox.Deployment {
	t.Helper()
	if o.MASADatabaseURL == "" {
		o.MASADatabaseURL = testpg.Database(t)
	}
	if o.RegistrarDatabaseURL == "" {
		o.RegistrarDatabaseURL = testpg.Database(t)
	}
	d, err := sandbox.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}
