package masa

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const appendixC = "../../../shared/testdata/rfc8995-appendix-c"

func readAppendixB64(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(appendixC, name))
	if err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func readAppendixCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(appendixC, name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificatePEMOrDER(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testSigner(t testing.TB, curve elliptic.Curve) *VoucherSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0), SubjectKeyId: []byte{1, 2, 3}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &VoucherSigner{Cert: cert, Key: key}
}

// TestParseAppendixC reads the RFC 8995 Appendix C CMS objects (id-data,
// signed by OpenSSL-era tools) with the MASA's reader.
func TestParseAppendixC(t *testing.T) {
	cases := []struct {
		file, signerCN, serial string
		certs                  int
	}{
		{"parboiled_vr_00-D0-E5-F2-00-02.b64", "fountain-test.example.com", "", 2},
		{"vr_00-D0-E5-F2-00-02.b64", "", "00-D0-E5-F2-00-02", 1},
	}
	for _, tc := range cases {
		sr, err := parseSignedRequest(readAppendixB64(t, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if sr.Signer.Subject.CommonName != tc.signerCN || sr.Signer.Subject.SerialNumber != tc.serial || len(sr.Certs) != tc.certs {
			t.Errorf("%s: signer %v, %d certs", tc.file, sr.Signer.Subject, len(sr.Certs))
		}
		if !sr.ContentType.Equal(OIDData) {
			t.Errorf("%s: eContentType %v", tc.file, sr.ContentType)
		}
		if _, err := decodeVoucherRequest(sr.Content); err != nil {
			t.Errorf("%s: %v", tc.file, err)
		}
	}
}

// TestSignParseRoundTrip: what VoucherSigner writes, the reader accepts,
// for both content types and both curves; any flipped byte is refused.
func TestSignParseRoundTrip(t *testing.T) {
	content := []byte(`{"ietf-voucher:voucher":{"serial-number":"x"}}`)
	for _, tc := range []struct {
		name  string
		curve elliptic.Curve
		ctype []int
	}{
		{"P-256 voucher", elliptic.P256(), OIDVoucherContent},
		{"P-384 data", elliptic.P384(), OIDData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSigner(t, tc.curve)
			s.ContentType = tc.ctype
			der, err := s.Sign(content, time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			sr, err := parseSignedRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sr.Content, content) || !sr.Signer.Equal(s.Cert) || !sr.ContentType.Equal(tc.ctype) {
				t.Errorf("round trip: %+v", sr)
			}
			i := bytes.Index(der, content)
			bad := bytes.Clone(der)
			bad[i+5] ^= 1
			if _, err := parseSignedRequest(bad); err == nil {
				t.Error("tampered content accepted")
			}
			bad = bytes.Clone(der)
			bad[len(bad)-3] ^= 1 // inside the signature
			if _, err := parseSignedRequest(bad); err == nil {
				t.Error("tampered signature accepted")
			}
		})
	}
}

func TestParseSignedRequestRejects(t *testing.T) {
	s := testSigner(t, elliptic.P256())
	good, _ := s.Sign([]byte("{}"), time.Now())
	for name, in := range map[string][]byte{
		"empty":          nil,
		"not DER":        []byte("hello"),
		"trailing bytes": append(bytes.Clone(good), 0),
		"truncated":      good[:len(good)-10],
		"a certificate":  s.Cert.Raw,
	} {
		if _, err := parseSignedRequest(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDomainIDAppendixC(t *testing.T) {
	owner := readAppendixCert(t, "ownerca_secp384r1.crt")
	// The SKI B9:A5:F6:CB:... base64 encoded.
	if got := DomainID(owner); got != "uaX2yxHhB6RJLKcIxnwQvIezdCY=" {
		t.Errorf("DomainID = %s", got)
	}
	s := testSigner(t, elliptic.P256())
	s.Cert.SubjectKeyId = nil
	if DomainID(s.Cert) == "" {
		t.Error("no DomainID without SKI")
	}
}

func TestMASAURLExtension(t *testing.T) {
	ext, err := masaURLExtension("masa.example.com:9443")
	if err != nil || ext.Value[0] != 0x16 || !bytes.HasSuffix(ext.Value, []byte("masa.example.com:9443")) {
		t.Errorf("extension = %x, %v", ext.Value, err)
	}
	if _, err := masaURLExtension("ünicode"); err == nil {
		t.Error("non-IA5 URL accepted")
	}
	// Appendix C's IDevID carries "highway-test.example.com:9443" the same way.
	idevid := readAppendixCert(t, "idevid_00-D0-E5-F2-00-02.crt")
	want, _ := masaURLExtension("highway-test.example.com:9443")
	for _, e := range idevid.Extensions {
		if e.Id.Equal(oidMASAURL) && !bytes.Equal(e.Value, want.Value) {
			t.Errorf("Appendix C MASA URL %x, ours %x", e.Value, want.Value)
		}
	}
}

func TestCheckSerial(t *testing.T) {
	for s, ok := range map[string]bool{
		"00-D0-E5-F2-00-02": true, "SN 1/2:3": true, "": false, "a_b": false, "é": false,
		strings.Repeat("x", 64): true, strings.Repeat("x", 65): false, "a*b": false,
	} {
		if got := checkSerial(s) == ""; got != ok {
			t.Errorf("checkSerial(%q) ok = %v", s, got)
		}
	}
}

func TestImportParsersReportLines(t *testing.T) {
	cases := []struct {
		name, format, body string
		lines              []int // of bad rows; nil for a good parse
		rows               int
	}{
		{"csv good", "csv", "serial-number,product,idevid\nA,p,\r\nB,,\n", nil, 2},
		{"csv BOM header", "csv", "\ufeffserial-number,product,idevid\nA,p,\n", nil, 1},
		{"csv field count", "csv", "serial-number,product,idevid\nA,p,\nB\nC,p,,x\n", []int{3, 4}, 0},
		{"csv quoted newline", "csv", "serial-number,product,idevid\n\"A\nB\",p,\nC\n", []int{4}, 0},
		{"json good", "json", `{"version":1,"devices":[{"serial-number":"A"},{"serial-number":"B","product":"p"}]}`, nil, 2},
		{"json lines", "json", "{\"version\":1,\n\"devices\":[\n{\"serial-number\":\"A\"},\n{\"serial-number\":1},\n{\"serial\":\"C\"}]}", []int{4, 5}, 0},
	}
	for _, tc := range cases {
		var rows []importRow
		var err error
		if tc.format == "csv" {
			rows, err = parseImportCSV([]byte(tc.body))
		} else {
			rows, err = parseImportJSON([]byte(tc.body))
		}
		if tc.lines == nil {
			if err != nil || len(rows) != tc.rows {
				t.Errorf("%s: %d rows, %v", tc.name, len(rows), err)
			}
			continue
		}
		ie, ok := err.(*ImportError)
		if !ok {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		var got []int
		for _, r := range ie.Rows {
			got = append(got, r.Line)
		}
		if len(got) != len(tc.lines) || got[0] != tc.lines[0] || got[len(got)-1] != tc.lines[len(tc.lines)-1] {
			t.Errorf("%s: bad lines %v, want %v (%+v)", tc.name, got, tc.lines, ie.Rows)
		}
	}
}

func TestInitAndLoadKeys(t *testing.T) {
	dir := t.TempDir()
	k, err := InitKeys(dir, InitOptions{Hosts: []string{"masa.example.com", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SignerCert.CheckSignatureFrom(k.CACert); err != nil {
		t.Error("signer not issued by the CA")
	}
	if k.TLS.Leaf == nil || k.TLS.Leaf.VerifyHostname("masa.example.com") != nil || k.TLS.Leaf.VerifyHostname("127.0.0.1") != nil {
		t.Error("TLS certificate does not name the hosts")
	}
	if st, _ := os.Stat(filepath.Join(dir, FileCAKey)); st.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v", st.Mode())
	}
	if _, err := InitKeys(dir, InitOptions{}); err == nil {
		t.Error("init overwrote keys")
	}
	// Import the Appendix C manufacturer: vendor CA and MASA signer.
	dir2 := t.TempDir()
	k2, err := InitKeys(dir2, InitOptions{
		ImportCACert: filepath.Join(appendixC, "vendor.crt"), ImportCAKey: filepath.Join(appendixC, "vendor.key"),
		ImportSignerCert: filepath.Join(appendixC, "masa.crt"), ImportSignerKey: filepath.Join(appendixC, "masa.key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if k2.CACert.Subject.CommonName != "highway-test.example.com CA" || k2.SignerCert.Subject.CommonName != "highway-test.example.com MASA" || k2.CAKey == nil {
		t.Errorf("imported %v / %v", k2.CACert.Subject, k2.SignerCert.Subject)
	}
	b, _ := os.ReadFile(filepath.Join(dir2, FileSignerKey))
	if blk, _ := pem.Decode(b); blk == nil || blk.Type != "PRIVATE KEY" {
		t.Error("imported key not stored as PKCS#8")
	}
}

// FuzzParseSignedRequest: the CMS reader never panics and never accepts
// what it cannot verify.
func FuzzParseSignedRequest(f *testing.F) {
	f.Add(readAppendixB64(f, "parboiled_vr_00-D0-E5-F2-00-02.b64"))
	f.Add(readAppendixB64(f, "vr_00-D0-E5-F2-00-02.b64"))
	f.Add(readAppendixB64(f, "voucher_00-D0-E5-F2-00-02.b64"))
	f.Add([]byte{0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		sr, err := parseSignedRequest(b)
		if err == nil && (sr.Signer == nil || len(sr.Content) == 0) {
			t.Fatal("accepted without signer or content")
		}
	})
}

// FuzzDecodeVoucherRequest: the voucher-request JSON decoder.
func FuzzDecodeVoucherRequest(f *testing.F) {
	sr, _ := parseSignedRequest(readAppendixB64(f, "parboiled_vr_00-D0-E5-F2-00-02.b64"))
	f.Add(sr.Content)
	f.Add([]byte(`{"ietf-voucher-request:voucher":{"serial-number":"x","nonce":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		vr, err := decodeVoucherRequest(b)
		if err == nil && vr.SerialNumber == "" {
			t.Fatal("accepted without serial-number")
		}
	})
}

// FuzzImport: the CSV and JSON import parsers report lines within the input.
func FuzzImport(f *testing.F) {
	f.Add("serial-number,product,idevid\nA,p,\nB\n", false)
	f.Add(`{"version":1,"devices":[{"serial-number":"A"},{"serial-number":2}]}`, true)
	f.Fuzz(func(t *testing.T, body string, isJSON bool) {
		parse := parseImportCSV
		if isJSON {
			parse = parseImportJSON
		}
		_, err := parse([]byte(body))
		if ie, ok := err.(*ImportError); ok {
			lines := strings.Count(body, "\n") + 1
			for _, r := range ie.Rows {
				if r.Line < 1 || r.Line > lines+1 {
					t.Fatalf("line %d outside input of %d lines", r.Line, lines)
				}
			}
		}
	})
}

func BenchmarkSignVoucher(b *testing.B) {
	s := testSigner(b, elliptic.P256())
	content := bytes.Repeat([]byte("x"), 800)
	for b.Loop() {
		if _, err := s.Sign(content, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRegistrarRequest(b *testing.B) {
	der := readAppendixB64(b, "parboiled_vr_00-D0-E5-F2-00-02.b64")
	for b.Loop() {
		if _, err := parseSignedRequest(der); err != nil {
			b.Fatal(err)
		}
	}
}
