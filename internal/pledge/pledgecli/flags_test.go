package pledgecli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func selfSigned(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "anchor"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestBaseConfig checks the required options, that every file is read
// strictly (a file without a PEM certificate is an error, not an empty
// trust store) and that the IDevID is required for one device.
func TestBaseConfig(t *testing.T) {
	dir := t.TempDir()
	anchor, empty := filepath.Join(dir, "anchor.crt"), filepath.Join(dir, "empty.crt")
	if err := os.WriteFile(anchor, append(selfSigned(t), selfSigned(t)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    Flags
		want string // error substring; "" for success
	}{
		{"complete", Flags{RegistrarURL: "https://lb.example", Anchor: anchor, MASACert: anchor, OuterCA: anchor, Mode: "atls-oscore"}, ""},
		{"no registrar", Flags{Anchor: anchor}, "--registrar-url"},
		{"no anchor", Flags{RegistrarURL: "https://lb.example"}, "--manufacturer-anchor"},
		{"anchor without PEM", Flags{RegistrarURL: "https://lb.example", Anchor: empty}, "no PEM certificate"},
		{"MASA cert without PEM", Flags{RegistrarURL: "https://lb.example", Anchor: anchor, MASACert: empty}, "no PEM certificate"},
		{"missing outer CA", Flags{RegistrarURL: "https://lb.example", Anchor: anchor, OuterCA: filepath.Join(dir, "absent.crt")}, "absent.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.f.BaseConfig()
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RegistrarURL != tc.f.RegistrarURL || cfg.Mode != tc.f.Mode || len(cfg.MASACerts) != 2 || cfg.HTTP == nil || cfg.ManufacturerAnchors == nil {
				t.Fatalf("config %+v", cfg)
			}
		})
	}
	if _, err := (&Flags{RegistrarURL: "https://lb.example", Anchor: anchor}).Config(); err == nil || !strings.Contains(err.Error(), "--idevid-cert") {
		t.Fatalf("Config without an IDevID: %v", err)
	}
}
