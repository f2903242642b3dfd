package masa

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const appendixC = "../../pkg/voucher/testdata/rfc8995-appendix-c" // the repository's one copy of RFC 8995 Appendix C

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

func TestDomainIDAppendixC(t *testing.T) {
	owner := readAppendixCert(t, "ownerca_secp384r1.crt")
	// The SKI B9:A5:F6:CB:... base64 encoded.
	if got := DomainID(owner); got != "uaX2yxHhB6RJLKcIxnwQvIezdCY=" {
		t.Errorf("DomainID = %s", got)
	}
	// Without an SKI: SHA-1 of the subjectPublicKey (RFC 7093 method 1).
	masa := readAppendixCert(t, "masa.crt")
	if len(masa.SubjectKeyId) != 0 || len(DomainID(masa)) != 28 {
		t.Errorf("DomainID without SKI = %q", DomainID(masa))
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
