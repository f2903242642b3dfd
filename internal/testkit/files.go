package testkit

import (
	"encoding/pem"
	"os"
	"testing"
)

// WritePEM writes ders to path as PEM blocks of type typ.
func WritePEM(t testing.TB, path, typ string, ders ...[]byte) {
	t.Helper()
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
