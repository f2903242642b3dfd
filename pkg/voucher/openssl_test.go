package voucher

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
}

func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeKey(t *testing.T, dir, name string, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runOpenSSL(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

// opensslVerify runs openssl cms -verify on der and returns the content.
func opensslVerify(t *testing.T, dir string, der []byte, extra []string) []byte {
	t.Helper()
	in := filepath.Join(dir, "in.der")
	if err := os.WriteFile(in, der, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"cms", "-verify", "-inform", "DER", "-in", in, "-binary"}, extra...)
	return runOpenSSL(t, args...)
}

var curves = []struct {
	name  string
	curve elliptic.Curve
}{{"P-256", elliptic.P256()}, {"P-384", elliptic.P384()}}

var contentTypes = []struct {
	name string
	oid  []int
}{{"animaJSONVoucher", OIDAnimaJSONVoucher}, {"id-data", OIDData}}

// What Landfall signs passes openssl cms -verify, for both eContentTypes
// and both curves, with the manufacturer CA as the only anchor.
func TestOpenSSLVerifiesLandfall(t *testing.T) {
	requireOpenSSL(t)
	for _, cv := range curves {
		for _, ct := range contentTypes {
			t.Run(cv.name+"/"+ct.name, func(t *testing.T) {
				p := newPKI(t, cv.curve)
				v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "abc", PinnedDomainCert: p.domainCA.Raw}}
				der, err := (&Signer{Cert: p.masa, Key: p.masaKey, ContentType: ct.oid}).SignVoucher(v)
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				out := opensslVerify(t, dir, der, []string{"-CAfile", writePEM(t, dir, "ca.pem", p.mfgCA), "-purpose", "any"})
				js, _ := v.MarshalJSON()
				if !bytes.Equal(out, js) {
					t.Errorf("openssl content %q", out)
				}
				printed := string(runOpenSSL(t, "cms", "-cmsout", "-inform", "DER", "-in", filepath.Join(dir, "in.der"), "-print", "-noout"))
				want := map[string]string{"animaJSONVoucher": "(1.2.840.113549.1.9.16.1.40)", "id-data": "pkcs7-data (1.2.840.113549.1.7.1)"}[ct.name]
				if !regexp.MustCompile(`eContentType: .*` + regexp.QuoteMeta(want)).MatchString(printed) {
					t.Errorf("eContentType is not %s:\n%s", want, printed)
				}
			})
		}
	}
}

// What openssl cms -sign produces passes Landfall's verification, for
// both eContentTypes, DER and streamed BER.
func TestLandfallVerifiesOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	for _, cv := range curves {
		for _, ct := range contentTypes {
			for _, stream := range []bool{false, true} {
				name := cv.name + "/" + ct.name
				if stream {
					name += "/BER"
				}
				t.Run(name, func(t *testing.T) {
					p := newPKI(t, cv.curve)
					v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionVerified, SerialNumber: p.serial, Nonce: "n-1", PinnedDomainCert: p.domainCA.Raw}}
					js, _ := v.MarshalJSON()
					dir := t.TempDir()
					in := filepath.Join(dir, "voucher.json")
					if err := os.WriteFile(in, js, 0o600); err != nil {
						t.Fatal(err)
					}
					out := filepath.Join(dir, "voucher.der")
					args := []string{"cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-in", in, "-out", out,
						"-signer", writePEM(t, dir, "masa.pem", p.masa), "-inkey", writeKey(t, dir, "masa.key", p.masaKey)}
					if ct.name == "animaJSONVoucher" {
						args = append(args, "-econtent_type", "1.2.840.113549.1.9.16.1.40")
					}
					if stream {
						args = append(args, "-stream")
					}
					runOpenSSL(t, args...)
					der, err := os.ReadFile(out)
					if err != nil {
						t.Fatal(err)
					}
					av, err := CheckVoucher(der, p.voucherCheck("n-1"))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(av.PinnedDomainCert.Raw, p.domainCA.Raw) {
						t.Error("wrong pinned certificate")
					}
					sc, _ := ParseSigned(der)
					if !sc.ContentType.Equal(ct.oid) {
						t.Errorf("eContentType %s", sc.ContentType)
					}
				})
			}
		}
	}
}
