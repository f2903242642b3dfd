package voucher

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestJOSECrossCheck is the Go half of scripts/voucher-jose-crosscheck.sh,
// which checks JWS vouchers against npm's jose, an independent JOSE
// implementation. It runs only when the script sets VOUCHER_JOSE_DIR.
// Phase export writes Landfall JWS vouchers and the PKI for jose to verify
// and sign with; phase import verifies, with the pledge's CheckVoucher,
// the General JWS vouchers jose signed.
func TestJOSECrossCheck(t *testing.T) {
	dir := os.Getenv("VOUCHER_JOSE_DIR")
	if dir == "" {
		t.Skip("run by scripts/voucher-jose-crosscheck.sh")
	}
	pemFile := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	readPEM := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", name)
		}
		return blk.Bytes
	}
	for _, cv := range curves {
		name := map[string]string{"P-256": "p256", "P-384": "p384"}[cv.name]
		switch os.Getenv("VOUCHER_JOSE_PHASE") {
		case "export":
			p := newPKI(t, cv.curve)
			v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "-_XE9zK9q8Ll1qylMtLKeg", PinnedDomainCert: p.domainCA.Raw}}
			b, err := (&Signer{Cert: p.masa, Key: p.masaKey}).SignVoucherJWS(v)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "from-go-"+name+".json"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			js, _ := v.MarshalJSON()
			if err := os.WriteFile(filepath.Join(dir, "payload-"+name+".json"), js, 0o600); err != nil {
				t.Fatal(err)
			}
			key, err := x509.MarshalPKCS8PrivateKey(p.masaKey)
			if err != nil {
				t.Fatal(err)
			}
			pemFile("masa-"+name+".pem", "CERTIFICATE", p.masa.Raw)
			pemFile("masa-key-"+name+".pem", "PRIVATE KEY", key)
			pemFile("ca-"+name+".pem", "CERTIFICATE", p.mfgCA.Raw)
		case "import":
			ca, err := x509.ParseCertificate(readPEM("ca-" + name + ".pem"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "from-jose-"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			av, err := CheckVoucher(b, VoucherCheck{ManufacturerRoots: poolOf(ca), SerialNumber: "LF-0001", Nonce: "-_XE9zK9q8Ll1qylMtLKeg", At: time.Now(), Format: FormatJWS})
			if err != nil {
				t.Fatalf("%s: jose's voucher: %v", cv.name, err)
			}
			t.Logf("%s: jose's General JWS voucher accepted, signer %s", cv.name, av.Signer.Subject)
		default:
			t.Fatal("VOUCHER_JOSE_PHASE is export or import")
		}
	}
}
