// Package testdeploy starts sandbox deployments for tests: a MASA and
// registrar replicas behind the in-process load balancer, on fresh
// databases of the test cluster (internal/testpg). It is apart from
// internal/testkit because the sandbox links every service, and the
// services' own tests use the kit.
package testdeploy

import (
	"context"
	"testing"

	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testpg"
)

// Start starts a deployment with the sandbox defaults.
func Start(t testing.TB) *sandbox.Deployment {
	t.Helper()
	return StartWith(t, sandbox.Options{})
}

// StartWith starts a deployment with o, on fresh databases of the test
// cluster where o names none, and closes it when the test and its
// subtests end.
func StartWith(t testing.TB, o sandbox.Options) *sandbox.Deployment {
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
