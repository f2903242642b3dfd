package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// build compiles the services' binaries into dir/bin: Landfall's masa,
// registrar and loadgen from this checkout, and step-ca from the
// smallstep/certificates module Landfall already requires (go.sum holds
// its build dependencies). CGO is off: step-ca's PKCS#11 and YubiKey
// KMS need C libraries this test does not use.
func build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	cmd := exec.Command("go", "build", "-o", bin+string(filepath.Separator),
		"github.com/landfall-io/landfall/cmd/masa",
		"github.com/landfall-io/landfall/cmd/registrar",
		"github.com/landfall-io/landfall/cmd/loadgen",
		"github.com/smallstep/certificates/cmd/step-ca")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	return bin
}
