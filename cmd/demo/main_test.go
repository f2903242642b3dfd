package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo onboards a device in every mode and prints the new
// certificate's subject and issuer; the files it writes hold a certificate
// that chains to the CA bundle it writes beside it.
func TestDemoOnboardsADevice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and a whole deployment")
	}
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--mode", "atls-cose", "--serial", "DEMO-T1", "--out", dir}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"new certificate   subject SERIALNUMBER=DEMO-T1", "issuer  CN=example.net Issuing CA", "approved/enrolled"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	certs := readPEM(t, filepath.Join(dir, "ldevid.crt"))
	cas := readPEM(t, filepath.Join(dir, "ca.crt"))
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range cas {
		if c.Subject.String() == c.Issuer.String() {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("written certificate does not chain to the written CA bundle: %v", err)
	}
}

func readPEM(t *testing.T, path string) []*x509.Certificate {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
}
