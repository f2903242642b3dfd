package atls

import (
	"crypto/tls"
	"os"
	"os/exec"
	"testing"
)

// Go's TLS 1.3 stacks have no knob for the suite: the client offers
// AES-128-GCM first when the CPU has AES instructions and ChaCha20 first
// otherwise, and the server follows the client's first choice. The tests
// therefore run once as they are and once more in a child process with
// GODEBUG=cpu.aes=off, which makes both sides pick ChaCha20/Poly1305.
// TLS_AES_256_GCM_SHA384 is never chosen by Go on both ends; the OpenSSL
// interop test covers it.

const childEnv = "LANDFALL_ATLS_CHILD"

// goSuites is the suite this process's Go endpoints negotiate.
func goSuites() []uint16 {
	if os.Getenv(childEnv) != "" {
		return []uint16{tls.TLS_CHACHA20_POLY1305_SHA256}
	}
	return []uint16{tls.TLS_AES_128_GCM_SHA256}
}

func TestKeyExportAndProtectedModesChaCha20(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("already the child")
	}
	if testing.Short() {
		t.Skip("re-runs the key-export tests in a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^(TestKeyExportModes|TestProtectedModesEndToEnd)$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GODEBUG=cpu.aes=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child run with GODEBUG=cpu.aes=off failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
