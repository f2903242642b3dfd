package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These tests cross-check the EST encodings with OpenSSL, an independent
// implementation: it must read every certs-only response, its CSRs must
// enroll, and it must verify what we issue against the domain CA.

func requireOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	return path
}

func runOpenSSL(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(requireOpenSSL(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out.String()
}

func writePEM(t *testing.T, dir, name, typ string, ders ...[]byte) string {
	t.Helper()
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// printCerts feeds an EST certs-only body to `openssl pkcs7 -print_certs`:
// base64 bodies wrapped in PEM armour (what EST users do with curl), binary
// bodies as DER. It returns the certificates OpenSSL printed.
func printCerts(t *testing.T, body []byte, binary bool) []*x509.Certificate {
	t.Helper()
	var out string
	if binary {
		out = runOpenSSL(t, body, "pkcs7", "-inform", "DER", "-print_certs")
	} else {
		armoured := append(append([]byte("-----BEGIN PKCS7-----\n"), body...), []byte("-----END PKCS7-----\n")...)
		out = runOpenSSL(t, armoured, "pkcs7", "-print_certs")
	}
	var certs []*x509.Certificate
	rest := []byte(out)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		t.Fatalf("openssl printed no certificates:\n%s", out)
	}
	return certs
}

func TestOpenSSLReadsCertsOnly(t *testing.T) {
	requireOpenSSL(t)
	p := newTestPKI(t)
	chain, key := p.idevid(t, "SN-OSSL")
	csr := makeCSR(t, key, csrOpts{subject: pkixName("SN-OSSL")})
	for _, binary := range []bool{false, true} {
		s := newTestServer(t, WithChainInEnrollResponse())
		var ctxf []func(context.Context) context.Context
		if binary {
			ctxf = append(ctxf, WithBinary)
		}
		cases := []struct {
			name, method, path string
			body               []byte
			want               int
		}{
			{"cacerts", "GET", est + "/cacerts", nil, 2},
			{"simpleenroll", "POST", est + "/simpleenroll", csr, 2},
		}
		for _, c := range cases {
			w := do(t, s, c.method, c.path, c.body, &Peer{Chain: chain}, ctxf...)
			if w.Code != 200 {
				t.Fatalf("%s: %d %s", c.name, w.Code, w.Body)
			}
			certs := printCerts(t, w.Body.Bytes(), binary)
			if len(certs) != c.want {
				t.Errorf("%s (binary %v): openssl printed %d certs, want %d", c.name, binary, len(certs), c.want)
			}
		}
		// serverkeygen: the certs-only part of the multipart response.
		w := do(t, s, "POST", est+"/serverkeygen", csr, &Peer{Chain: chain}, ctxf...)
		if w.Code != 200 {
			t.Fatalf("serverkeygen: %d %s", w.Code, w.Body)
		}
		part := multipartPart(t, w.Header().Get("Content-Type"), w.Body.Bytes(), "application/pkcs7-mime")
		if got := printCerts(t, part, binary); len(got) != 2 {
			t.Errorf("serverkeygen: openssl printed %d certs", len(got))
		}
		keyPart := multipartPart(t, w.Header().Get("Content-Type"), w.Body.Bytes(), MediaTypePKCS8)
		if binary {
			runOpenSSL(t, keyPart, "pkey", "-inform", "DER", "-noout")
		} else {
			armoured := append(append([]byte("-----BEGIN PRIVATE KEY-----\n"), keyPart...), []byte("-----END PRIVATE KEY-----\n")...)
			runOpenSSL(t, armoured, "pkey", "-noout")
		}
	}
}

func TestOpenSSLCSREnrollsAndVerifies(t *testing.T) {
	requireOpenSSL(t)
	p := newTestPKI(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pledge.key")
	csrFile := filepath.Join(dir, "pledge.csr")
	runOpenSSL(t, nil, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile)
	// An LDevID request as a pledge would make it: subject serialNumber
	// from the IDevID, the DNS SAN csrattrs announces, and a keyUsage
	// extension request.
	runOpenSSL(t, nil, "req", "-new", "-key", keyFile, "-out", csrFile, "-outform", "DER",
		"-subj", "/serialNumber=SN-OPENSSL",
		"-addext", "subjectAltName=DNS:SN-OPENSSL.pledges.test.example",
		"-addext", "keyUsage=critical,digitalSignature")
	csrDER, err := os.ReadFile(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := p.idevid(t, "SN-OPENSSL")
	s := newTestServer(t)
	for _, body := range [][]byte{csrDER, encodeBase64Lines(csrDER), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})} {
		w := do(t, s, "POST", est+"/simpleenroll", body, &Peer{Chain: chain})
		if w.Code != 200 {
			t.Fatalf("openssl CSR: %d %s", w.Code, w.Body)
		}
		certs := printCerts(t, w.Body.Bytes(), false)
		leaf := certs[0]
		checkLDevIDWithOpenSSL(t, leaf, "SN-OPENSSL", []string{"DNS:SN-OPENSSL.pledges.test.example"})
		rootFile := writePEM(t, dir, "root.pem", "CERTIFICATE", p.domainRoot.Raw)
		issuerFile := writePEM(t, dir, "issuer.pem", "CERTIFICATE", p.domainIssuer.Raw)
		leafFile := writePEM(t, dir, "leaf.pem", "CERTIFICATE", leaf.Raw)
		out := runOpenSSL(t, nil, "verify", "-CAfile", rootFile, "-untrusted", issuerFile, "-purpose", "sslclient", leafFile)
		if !strings.Contains(out, "OK") {
			t.Fatalf("openssl verify: %s", out)
		}
		// The key in the certificate is the CSR's.
		pubFromKey := runOpenSSL(t, nil, "pkey", "-in", keyFile, "-pubout")
		pubFromCert := runOpenSSL(t, nil, "x509", "-in", leafFile, "-noout", "-pubkey")
		if pubFromKey != pubFromCert {
			t.Fatal("certificate key differs from the openssl key")
		}
	}
	// An openssl CSR naming itself otherwise is refused.
	forged := filepath.Join(dir, "forged.csr")
	runOpenSSL(t, nil, "req", "-new", "-key", keyFile, "-out", forged, "-outform", "DER",
		"-subj", "/serialNumber=SN-OPENSSL/O=Maker/CN=pledge", "-addext", "subjectAltName=DNS:pledge.example.net")
	forgedDER, err := os.ReadFile(forged)
	if err != nil {
		t.Fatal(err)
	}
	if w := do(t, s, "POST", est+"/simpleenroll", forgedDER, &Peer{Chain: chain}); w.Code != 403 || !strings.Contains(w.Body.String(), "CSR subject requests O=Maker") {
		t.Fatalf("forged openssl CSR: %d %s", w.Code, w.Body)
	}
	// openssl verify must reject the certificate against a foreign root.
	other := writePEM(t, dir, "mfg.pem", "CERTIFICATE", p.mfgRoot.Raw)
	leafFile := filepath.Join(dir, "leaf.pem")
	cmd := exec.Command(requireOpenSSL(t), "verify", "-CAfile", other, "-untrusted", filepath.Join(dir, "issuer.pem"), leafFile)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("openssl verify accepted a foreign root: %s", out)
	}
}

func TestOpenSSLCSRWithChallengePassword(t *testing.T) {
	requireOpenSSL(t)
	p := newTestPKI(t)
	dir := t.TempDir()
	binding := bytes.Repeat([]byte{0xA5}, 32)
	cfg := filepath.Join(dir, "req.cnf")
	conf := "[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nserialNumber=SN-CB\n[attrs]\nchallengePassword=" + ChannelBindingPassword(binding) + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "k.pem")
	runOpenSSL(t, nil, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile)
	csrPEM := runOpenSSL(t, nil, "req", "-new", "-key", keyFile, "-config", cfg)
	chain, _ := p.idevid(t, "SN-CB")
	s := newTestServer(t, WithCSRPolicy(&CSRPolicy{RequireSerialNumber: true, RequireChannelBinding: true}))
	if w := do(t, s, "POST", est+"/simpleenroll", []byte(csrPEM), &Peer{Chain: chain, ChannelBinding: binding}); w.Code != 200 {
		t.Fatalf("matching binding: %d %s", w.Code, w.Body)
	}
	other := bytes.Repeat([]byte{0x5A}, 32)
	if w := do(t, s, "POST", est+"/simpleenroll", []byte(csrPEM), &Peer{Chain: chain, ChannelBinding: other}); w.Code != 403 {
		t.Fatalf("other session's binding: %d %s", w.Code, w.Body)
	}
}
