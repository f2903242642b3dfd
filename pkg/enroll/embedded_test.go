package enroll

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerateDomainCAAndEmbeddedFromFiles(t *testing.T) {
	dir := t.TempDir()
	cfg, err := GenerateDomainCA(dir, DomainCAOptions{Name: "files.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := GenerateDomainCA(dir, DomainCAOptions{Name: "files.example"}); err == nil {
		t.Fatal("overwrote an existing domain CA")
	}
	if _, err := GenerateDomainCA(t.TempDir(), DomainCAOptions{}); err == nil {
		t.Fatal("generated a CA without a name")
	}
	st, err := os.Stat(cfg.IssuerKeyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("issuer key mode %v (%v)", st.Mode(), err)
	}
	cfg.Profile = IssuanceProfile{Validity: 10 * 24 * time.Hour}
	ca, err := NewEmbeddedCA(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := mustKey(t)
	csr := mustParseCSRT(t, makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "F1"}}))
	names := &CertificateNames{Subject: pkix.Name{SerialNumber: "F1"}, URIs: []*url.URL{{Scheme: "urn", Opaque: "example:F1"}}}
	iss, err := ca.Enroll(context.Background(), &EnrollRequest{CSR: csr, Label: "prof", Names: names})
	if err != nil {
		t.Fatal(err)
	}
	c := iss.Certificate
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %v", c.KeyUsage)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("EKU %v", c.ExtKeyUsage)
	}
	if len(c.URIs) != 1 || c.URIs[0].String() != "urn:example:F1" || len(c.DNSNames) != 0 {
		t.Errorf("SANs %v %v", c.URIs, c.DNSNames)
	}
	if c.Subject.String() != "SERIALNUMBER=F1" {
		t.Errorf("subject %v", c.Subject)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d != 10*24*time.Hour+DefaultBackdate {
		t.Errorf("validity %v", d)
	}
	if len(iss.Chain) != 2 || !isSelfSigned(iss.Chain[1]) {
		t.Errorf("chain of %d, want issuing CA + root", len(iss.Chain))
	}
	if c.Issuer.CommonName != "files.example Issuing CA" {
		t.Errorf("issuer %v", c.Issuer)
	}

	// Validity never exceeds the issuing CA's.
	cfg.Profile = IssuanceProfile{Validity: 100 * 365 * 24 * time.Hour}
	long, err := NewEmbeddedCA(cfg)
	if err != nil {
		t.Fatal(err)
	}
	iss, err = long.Enroll(context.Background(), &EnrollRequest{CSR: csr, Names: names})
	if err != nil {
		t.Fatal(err)
	}
	if iss.Certificate.NotAfter.After(iss.Chain[0].NotAfter) {
		t.Error("certificate outlives its issuer")
	}
}

func TestNewEmbeddedCAErrors(t *testing.T) {
	p := newTestPKI(t)
	dir := t.TempDir()
	files, err := GenerateDomainCA(dir, DomainCAOptions{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  EmbeddedConfig
		want string
	}{
		{"no root", EmbeddedConfig{}, "root"},
		{"no issuer", EmbeddedConfig{Root: p.domainRoot}, "issuing CA certificate"},
		{"no key", EmbeddedConfig{Root: p.domainRoot, IssuerChain: []*x509.Certificate{p.domainIssuer}}, "issuing CA key"},
		{"key mismatch", EmbeddedConfig{Root: p.domainRoot, IssuerChain: []*x509.Certificate{p.domainIssuer}, IssuerKey: mustKey(t)}, "does not match"},
		{"wrong root", EmbeddedConfig{Root: p.mfgRoot, IssuerChain: []*x509.Certificate{p.domainIssuer}, IssuerKey: p.domainKey}, "does not lead to the root"},
		{"missing file", EmbeddedConfig{RootFile: filepath.Join(dir, "nope")}, "root"},
		{"bad key file", EmbeddedConfig{RootFile: files.RootFile, IssuerFile: files.IssuerFile, IssuerKeyFile: files.RootFile}, "issuer key"},
		{"negative validity", EmbeddedConfig{Root: p.domainRoot, IssuerChain: []*x509.Certificate{p.domainIssuer}, IssuerKey: p.domainKey, Profile: IssuanceProfile{Validity: -time.Hour}}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEmbeddedCA(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// TestEmbeddedCAIssuesNamesNotCSR: the embedded CA signs req.Names and
// ignores every name and usage the CSR asks for (the server refuses such
// CSRs before; this is the CA's own guarantee), and refuses to sign
// without names.
func TestEmbeddedCAIssuesNamesNotCSR(t *testing.T) {
	p := newTestPKI(t)
	eku := pkix.Extension{Id: OIDExtExtendedKeyUsage, Value: mustMarshal(t, []asn1.ObjectIdentifier{oidKPServerAuth, oidKPCmcRA})}
	forged := mustParseCSRT(t, makeCSR(t, mustKey(t), csrOpts{
		subject: pkix.Name{CommonName: "registrar.example.net", OrganizationalUnit: []string{"Domain CA"}},
		dns:     []string{"*.example.net"}, exts: []pkix.Extension{eku}}))
	names := &CertificateNames{Subject: pkix.Name{SerialNumber: "T1"}}
	iss, err := p.ca.Enroll(context.Background(), &EnrollRequest{CSR: forged, Names: names})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkIssued(iss.Certificate, names); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ca.Enroll(context.Background(), &EnrollRequest{CSR: forged}); err == nil {
		t.Fatal("signed without names")
	}
	bad := &CertificateNames{Subject: pkix.Name{SerialNumber: "T1"}, DNSNames: []string{"*.example.net"}}
	if _, err := p.ca.Enroll(context.Background(), &EnrollRequest{CSR: forged, Names: bad}); err == nil {
		t.Fatal("signed a wildcard name")
	}
}
