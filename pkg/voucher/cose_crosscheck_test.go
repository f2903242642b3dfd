package voucher

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCOSECrossCheck is the Go half of scripts/voucher-cose-crosscheck.sh,
// which checks COSE vouchers against npm's cose-js, an independent COSE
// implementation. It runs only when the script sets VOUCHER_COSE_DIR.
// Phase export writes Landfall COSE vouchers and the MASA's key for
// cose-js to verify and sign with; phase import verifies, with the
// pledge's CheckVoucher, the COSE_Sign1 vouchers cose-js signed.
func TestCOSECrossCheck(t *testing.T) {
	dir := os.Getenv("VOUCHER_COSE_DIR")
	if dir == "" {
		t.Skip("run by scripts/voucher-cose-crosscheck.sh")
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, cv := range curves {
		name := map[string]string{"P-256": "p256", "P-384": "p384"}[cv.name]
		switch os.Getenv("VOUCHER_COSE_PHASE") {
		case "export":
			p := newPKI(t, cv.curve)
			v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "-_XE9zK9q8Ll1qylMtLKeg", PinnedDomainCert: p.domainCA.Raw}}
			b, err := (&Signer{Cert: p.masa, Key: p.masaKey}).SignVoucherCOSE(v)
			if err != nil {
				t.Fatal(err)
			}
			write("from-go-"+name+".cbor", b)
			cb, _ := v.MarshalCBOR()
			write("payload-"+name+".cbor", cb)
			k := p.masaKey.(*ecdsa.PrivateKey)
			size := (k.Curve.Params().BitSize + 7) / 8
			pub, _ := k.PublicKey.Bytes() // 04 || x || y
			d, _ := k.Bytes()
			js, _ := json.Marshal(map[string]string{
				"x":    hex.EncodeToString(pub[1 : 1+size]),
				"y":    hex.EncodeToString(pub[1+size:]),
				"d":    hex.EncodeToString(d),
				"cert": hex.EncodeToString(p.masa.Raw),
			})
			write("masa-"+name+".json", js)
			write("ca-"+name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.mfgCA.Raw}))
		case "import":
			blk, _ := pem.Decode(read("ca-" + name + ".pem"))
			ca, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			b := read("from-cosejs-" + name + ".cbor")
			av, err := CheckVoucher(b, VoucherCheck{ManufacturerRoots: poolOf(ca), SerialNumber: "LF-0001", Nonce: "-_XE9zK9q8Ll1qylMtLKeg", At: time.Now(), Format: FormatCOSE})
			if err != nil {
				t.Fatalf("%s: cose-js's voucher: %v", cv.name, err)
			}
			t.Logf("%s: cose-js's COSE_Sign1 voucher (x5chain) accepted, signer %s", cv.name, av.Signer.Subject)
		default:
			t.Fatal("VOUCHER_COSE_PHASE is export or import")
		}
	}
}
