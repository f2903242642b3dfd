package enroll

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/ca"
	"go.step.sm/crypto/jose"
)

// stepCA is a real step-ca server started in-process on loopback.
type stepCA struct {
	url         string
	fingerprint string
	root        *x509.Certificate
	issuer      *x509.Certificate
	password    []byte
}

// startStepCA runs smallstep's CA server (ca.New + Run) with its own root
// and issuing CA and one JWK provisioner named "landfall-ra" whose template
// is RemoteProvisionerTemplate.
func startStepCA(t *testing.T) *stepCA {
	t.Helper()
	dir := t.TempDir()
	files, err := GenerateDomainCA(dir, DomainCAOptions{Name: "remote step-ca"})
	if err != nil {
		t.Fatal(err)
	}
	root := readPEMCert(t, files.RootFile)
	issuer := readPEMCert(t, files.IssuerFile)

	password := []byte("provisioner password")
	pub, jwe, err := jose.GenerateDefaultKeyPair(password)
	if err != nil {
		t.Fatal(err)
	}
	encKey, err := jwe.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	prov := &provisioner.JWK{
		Type:         "JWK",
		Name:         "landfall-ra",
		Key:          pub,
		EncryptedKey: encKey,
		Options:      &provisioner.Options{X509: &provisioner.X509Options{Template: RemoteProvisionerTemplate}},
		Claims:       &provisioner.Claims{MaxTLSDur: &provisioner.Duration{Duration: 90 * 24 * time.Hour}},
	}
	// A provisioner still carrying the template Landfall shipped before
	// issue 11: it copies the CSR's subject and allows serverAuth.
	legacyPub, legacyJWE, err := jose.GenerateDefaultKeyPair(password)
	if err != nil {
		t.Fatal(err)
	}
	legacyKey, err := legacyJWE.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	legacy := &provisioner.JWK{
		Type: "JWK", Name: "legacy", Key: legacyPub, EncryptedKey: legacyKey,
		Options: &provisioner.Options{X509: &provisioner.X509Options{Template: legacyProvisionerTemplate}},
		Claims:  &provisioner.Claims{MaxTLSDur: &provisioner.Duration{Duration: 90 * 24 * time.Hour}},
	}

	// ca.Run listens on the configured address and offers no way to pass a
	// listener, so reserve a free loopback port and hand its address over.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	cfg := &config.Config{
		Root:             []string{files.RootFile},
		IntermediateCert: files.IssuerFile,
		IntermediateKey:  files.IssuerKeyFile,
		Address:          addr,
		DNSNames:         []string{"127.0.0.1", "localhost"},
		AuthorityConfig: &config.AuthConfig{
			Provisioners: provisioner.List{prov, legacy},
		},
	}
	srv, err := ca.New(cfg, ca.WithQuiet(true))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run() }()
	t.Cleanup(func() {
		_ = srv.Stop()
		<-done
	})

	// Wait until the server answers /health over TLS, verified with its root.
	pool := x509.NewCertPool()
	pool.AddCert(root)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	url := "https://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := hc.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("step-ca exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("step-ca did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling a server we cannot hand a listener to
	}
	sum := sha256.Sum256(root.Raw)
	return &stepCA{url: url, fingerprint: hex.EncodeToString(sum[:]), root: root, issuer: issuer, password: password}
}

// legacyProvisionerTemplate copies the CSR's subject into the certificate.
const legacyProvisionerTemplate = `{
	"subject": {{ toJson .Insecure.CR.Subject }},
	"sans": {{ if .Token.sans }}{{ toJson .SANs }}{{ else }}[]{{ end }},
	"keyUsage": ["digitalSignature"],
	"extKeyUsage": ["clientAuth", "serverAuth"],
	"basicConstraints": {"isCA": false}
}`

func readPEMCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRemoteCAWithRealStepCA(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a step-ca server")
	}
	sca := startStepCA(t)
	ctx := context.Background()

	t.Run("config errors", func(t *testing.T) {
		bad := []RemoteConfig{
			{},
			{URL: sca.url},
			{URL: sca.url, RootFingerprint: sca.fingerprint},
			{URL: sca.url, RootFingerprint: sca.fingerprint, Provisioner: "landfall-ra"},
		}
		for _, c := range bad {
			if _, err := NewRemoteCA(ctx, c); err == nil {
				t.Errorf("accepted %+v", c)
			}
		}
	})
	t.Run("wrong fingerprint", func(t *testing.T) {
		_, err := NewRemoteCA(ctx, RemoteConfig{URL: sca.url, RootFingerprint: hex.EncodeToString(make([]byte, 32)),
			Provisioner: "landfall-ra", ProvisionerPassword: sca.password})
		if err == nil {
			t.Fatal("connected with a wrong root fingerprint")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := NewRemoteCA(ctx, RemoteConfig{URL: sca.url, RootFingerprint: sca.fingerprint,
			Provisioner: "landfall-ra", ProvisionerPassword: []byte("nope")})
		if err == nil {
			t.Fatal("decrypted the provisioner key with a wrong password")
		}
	})

	rca, err := NewRemoteCA(ctx, RemoteConfig{
		URL: sca.url, RootFingerprint: sca.fingerprint,
		Provisioner: "landfall-ra", ProvisionerPassword: sca.password,
		Profile: IssuanceProfile{Validity: 48 * time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	caCerts, err := rca.CACerts(ctx)
	if err != nil || len(caCerts) != 2 || !caCerts[0].Equal(sca.issuer) || !caCerts[1].Equal(sca.root) {
		t.Fatalf("CACerts: %d certs, %v", len(caCerts), err)
	}

	// The whole EST path: handler -> RemoteCA -> stepcas -> step-ca.
	p := newTestPKI(t)
	var rec *Issuance
	issued := 0
	s, err := NewServer(rca, WithPolicy(AllowAuthenticated), WithLogger(quietLogger()),
		WithCSRPolicy(&CSRPolicy{RequireSerialNumber: true}), WithNamePolicy(testNamePolicy(t)),
		WithIssuedHook(func(_ context.Context, r *Issuance) error { rec = r; issued++; return nil }))
	if err != nil {
		t.Fatal(err)
	}
	chain, key := p.idevid(t, "SN-REMOTE")
	expectRefusals(t, "simpleenroll", s, &issued, &Peer{Chain: chain}, key, "SN-REMOTE")
	w := do(t, s, "POST", est+"/simpleenroll", makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-REMOTE"}}), &Peer{Chain: chain})
	if w.Code != 200 {
		t.Fatalf("simpleenroll via step-ca: %d %s", w.Code, w.Body)
	}
	certs, err := ParseCertsOnly(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	leaf := certs[0]
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(sca.root)
	inter.AddCert(sca.issuer)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("remote certificate does not verify: %v", err)
	}
	checkLDevIDWithOpenSSL(t, leaf, "SN-REMOTE", []string{"DNS:SN-REMOTE.pledges.test.example"})
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("validity %v, want about 48h", d)
	}
	if rec == nil || rec.SerialNumber.Cmp(leaf.SerialNumber) != 0 || len(rec.Chain) != 2 || !rec.Chain[1].Equal(sca.root) {
		t.Fatalf("issuance record %+v", rec)
	}

	// Re-enrollment with the remote LDevID, and server-side key generation.
	ldev := []*x509.Certificate{leaf, sca.issuer}
	newKey := mustKey(t)
	expectRefusals(t, "simplereenroll", s, &issued, &Peer{Chain: ldev}, newKey, "SN-REMOTE")
	w = do(t, s, "POST", est+"/simplereenroll", makeCSR(t, newKey, csrOpts{subject: leaf.Subject, dns: leaf.DNSNames}), &Peer{Chain: ldev})
	if w.Code != 200 {
		t.Fatalf("simplereenroll via step-ca: %d %s", w.Code, w.Body)
	}
	certs, _ = ParseCertsOnly(w.Body.Bytes())
	checkLDevIDWithOpenSSL(t, certs[0], "SN-REMOTE", []string{"DNS:SN-REMOTE.pledges.test.example"})
	w = do(t, s, "POST", est+"/serverkeygen", makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-REMOTE"}}), &Peer{Chain: chain})
	if w.Code != 200 {
		t.Fatalf("serverkeygen via step-ca: %d %s", w.Code, w.Body)
	}
	certs, _, err = ParseServerKeyGen(w.Header().Get("Content-Type"), w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	checkLDevIDWithOpenSSL(t, certs[0], "SN-REMOTE", []string{"DNS:SN-REMOTE.pledges.test.example"})

	// No SAN template: the remote certificate has no subjectAltName at all
	// (step-ca would otherwise add the token subject as a DNS name).
	plain, err := NewServer(rca, WithPolicy(AllowAuthenticated), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	w = do(t, plain, "POST", est+"/simpleenroll", makeCSR(t, key, csrOpts{}), &Peer{Chain: chain})
	if w.Code != 200 {
		t.Fatalf("simpleenroll without SANs: %d %s", w.Code, w.Body)
	}
	certs, _ = ParseCertsOnly(w.Body.Bytes())
	checkLDevIDWithOpenSSL(t, certs[0], "SN-REMOTE", nil)

	names := &CertificateNames{Subject: pkix.Name{SerialNumber: "SN-REMOTE", CommonName: "SN-REMOTE"}}
	// A CSR that the remote provisioner refuses (its SANs differ from the
	// token's) comes back as an error, not a certificate.
	_, err = rca.Enroll(ctx, &EnrollRequest{Names: names, CSR: mustParseCSR(t, makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-REMOTE"}, dns: []string{"evil.example"}}))})
	if err == nil {
		t.Fatal("remote CA signed a CSR whose SANs differ from the token")
	}
	if statusOf(err) != http.StatusForbidden {
		t.Errorf("remote refusal maps to %d, want 403: %v", statusOf(err), err)
	}
	// The token carries the subject as one string: a policy subject other
	// than CN and serialNumber both the serial is refused before anything
	// is signed.
	if _, err := rca.Enroll(ctx, &EnrollRequest{Names: &CertificateNames{Subject: pkix.Name{SerialNumber: "SN-REMOTE", Organization: []string{"X"}}},
		CSR: mustParseCSR(t, makeCSR(t, key, csrOpts{}))}); err == nil || !strings.Contains(err.Error(), "CN=<serial>,serialNumber=<serial> only") {
		t.Errorf("subject with a CN: %v", err)
	}
	// A provisioner whose template copies the CSR (Landfall's before issue
	// 11) signs, but the certificate differs from policy and is withheld.
	legacy, err := NewRemoteCA(ctx, RemoteConfig{URL: sca.url, RootFingerprint: sca.fingerprint,
		Provisioner: "legacy", ProvisionerPassword: sca.password, Profile: IssuanceProfile{Validity: 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	if iss, err := legacy.Enroll(ctx, &EnrollRequest{Names: names,
		CSR: mustParseCSR(t, makeCSR(t, key, csrOpts{subject: pkix.Name{CommonName: "SN-REMOTE"}}))}); err == nil || !strings.Contains(err.Error(), "outside policy") {
		t.Fatalf("legacy provisioner: certificate %v, err %v", iss, err)
	}
	// The remote CA's limits reach the client as a 403 too.
	short, err := NewRemoteCA(ctx, RemoteConfig{URL: sca.url, RootFingerprint: sca.fingerprint,
		Provisioner: "landfall-ra", ProvisionerPassword: sca.password, Profile: IssuanceProfile{Validity: 1000 * 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = short.Enroll(ctx, &EnrollRequest{Names: names, CSR: mustParseCSR(t, makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-REMOTE"}}))})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusForbidden {
		t.Fatalf("over-long validity: %v", err)
	}
}

func mustParseCSR(t *testing.T, der []byte) *x509.CertificateRequest {
	t.Helper()
	c, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
