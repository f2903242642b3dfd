package e2e_test

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// build compiles the services' binaries into dir/bin: Landfall's masa,
// registrar and loadgen from this checkout, and, at the same time,
// step-ca from the smallstep/certificates module Landfall already
// requires (go.sum holds its build dependencies), without its PKCS#11
// and YubiKey KMS (tags nopkcs11, noyubikey: they need C libraries and
// modules this test does not use). Both build as the rest of the suite
// does otherwise, so that they share its build cache.
func build(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin") + string(filepath.Separator)
	builds := []struct {
		flags []string
		pkgs  []string
	}{
		{nil, []string{"github.com/landfall-io/landfall/cmd/masa", "github.com/landfall-io/landfall/cmd/registrar", "github.com/landfall-io/landfall/cmd/loadgen"}},
		{[]string{"-tags", "nopkcs11,noyubikey"}, []string{"github.com/smallstep/certificates/cmd/step-ca"}},
	}
	var wg sync.WaitGroup
	errs := make([]string, len(builds))
	for i, b := range builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append(append([]string{"build", "-o", bin}, b.flags...), b.pkgs...)
			cmd := exec.Command("go", args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = err.Error() + "\n" + string(out)
			}
		}()
	}
	wg.Wait()
	for i, e := range errs {
		if e != "" {
			t.Fatalf("building %v: %s", builds[i].pkgs, e)
		}
	}
	return filepath.Join(dir, "bin")
}
