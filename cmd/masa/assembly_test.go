package main

import (
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
)

// TestSandboxRunsServeDefaults: the MASA the sandbox (and so the end-to-end
// and fault tests) runs has, field by field, the configuration `masa serve`
// builds from its default options (issue 12 item 1). Only what is the
// deployment's own is left out: the store, the URL and the log. The keys
// are the sandbox's for both, so that they compare too. A field added to
// masa.Config is compared without changing this test.
func TestSandboxRunsServeDefaults(t *testing.T) {
	d := testdeploy.StartWith(t, sandbox.Options{Replicas: 1})
	fs, o := serveFlags(io.Discard)
	if err := parse(fs, nil, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.serviceConfig(d.MASA.Store(), d.MASAKeys, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := masa.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, diff := range testkit.FieldDiff(svc.Config(), d.MASA.Config(), "Store", "MASAURL", "Logger") {
		t.Errorf("masa serve and the sandbox differ in %s", diff)
	}
}

// TestConfigDiffSeesEachField: configDiff reports a changed option, a
// different clock and a different content type, so that the comparison
// above can fail.
func TestConfigDiffSeesEachField(t *testing.T) {
	fs, o := serveFlags(io.Discard)
	if err := parse(fs, []string{"--retry-after", "1s", "--voucher-content-type", "data", "--client-auth", "require"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	keys := &masa.Keys{}
	changed, err := o.serviceConfig(nil, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := masa.ConfigFromKeys(nil, keys, "")
	base.AuditLogLimit = o.auditLogLimit // unchanged: no difference
	base.Clock = func() time.Time { return time.Time{} }
	got := testkit.FieldDiff(changed, base)
	want := []string{"Signer", "Clock", "RetryAfter", "RequireRegistrarTLS"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configDiff = %v, want %v", got, want)
	}
}
