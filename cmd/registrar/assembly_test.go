package main

import (
	"io"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// deploymentFields are a replica's own: its id, its keys and certificate
// (the sandbox's for both below), its stores, CA backend and clients, its
// log, and the load balancers it trusts. Everything else must be what
// `registrar serve` runs by default.
var deploymentFields = []string{"ReplicaID", "Store", "Contexts", "Replicas", "CA", "ForwardClient", "VoucherSource", "Logger", "TrustedProxies", "MASA"}

// TestSandboxRunsServeDefaults: the replicas the sandbox (and so the
// end-to-end, fault and security tests) runs have, field by field, the
// effective configuration `registrar serve` builds from its default
// options (issue 12 item 1). A field added to registrar.Config is compared
// without changing this test.
func TestSandboxRunsServeDefaults(t *testing.T) {
	d := testdeploy.StartWith(t, sandbox.Options{Replicas: 1})
	c, parse := serveFlags(io.Discard)
	if err := parse(nil, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	sandboxed := d.Replicas[0].Config()
	ca, err := enroll.NewEmbeddedCA(d.State.DomainCA)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.registrarConfig(d.State, nil, ca, nil)
	cfg.Store, cfg.Contexts, cfg.Replicas, cfg.ReplicaID = sandboxed.Store, sandboxed.Contexts, sandboxed.Replicas, "serve-defaults"
	served, err := registrar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	for _, diff := range testkit.FieldDiff(served.Config(), sandboxed, deploymentFields...) {
		t.Errorf("registrar serve and the sandbox differ in %s", diff)
	}
	// The MASA client's timings are policy, its client certificate the
	// deployment's.
	if s, b := served.Config().MASA, sandboxed.MASA; s.Timeout != b.Timeout || s.Attempts != b.Attempts || s.Backoff != b.Backoff {
		t.Errorf("MASA client: serve %+v, sandbox %+v", s, b)
	}
}

// TestConfigDiffSeesEachField: a changed option shows, so that the
// comparison above can fail.
func TestConfigDiffSeesEachField(t *testing.T) {
	a := registrar.Config{Approval: registrar.ApprovalAuto, MaxHandshakes: 1024}
	b := a
	b.Approval, b.MaxHandshakes = registrar.ApprovalManual, 10
	got := testkit.FieldDiff(a, b)
	if len(got) != 2 || got[0] != "Approval" || got[1] != "MaxHandshakes" {
		t.Fatalf("configDiff = %v", got)
	}
}
