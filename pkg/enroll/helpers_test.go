package enroll

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPKI is a manufacturer CA that mints IDevIDs and a domain CA behind an
// EmbeddedCA, built once per test binary (key generation and the smallstep
// authority are the slow parts).
type testPKI struct {
	mfgRoot *x509.Certificate
	mfgKey  crypto.Signer

	domainRoot   *x509.Certificate
	domainIssuer *x509.Certificate
	domainKey    crypto.Signer
	ca           *EmbeddedCA
}

var (
	pkiOnce sync.Once
	pkiVal  *testPKI
	pkiErr  error
)

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		p := &testPKI{}
		p.domainRoot, _, p.domainIssuer, p.domainKey, pkiErr = NewDomainCA(DomainCAOptions{Name: "test.example"})
		if pkiErr != nil {
			return
		}
		p.mfgRoot, p.mfgKey, _, _, pkiErr = NewDomainCA(DomainCAOptions{Name: "manufacturer"})
		if pkiErr != nil {
			return
		}
		p.ca, pkiErr = NewEmbeddedCA(EmbeddedConfig{
			Root: p.domainRoot, IssuerChain: []*x509.Certificate{p.domainIssuer}, IssuerKey: p.domainKey,
		})
		pkiVal = p
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiVal
}

// idevid mints a device certificate with subject serialNumber under the
// manufacturer root.
func (p *testPKI) idevid(t testing.TB, serial string) ([]*x509.Certificate, crypto.Signer) {
	t.Helper()
	return issueLeaf(t, p.mfgRoot, p.mfgKey, pkix.Name{SerialNumber: serial, Organization: []string{"Maker"}})
}

func issueLeaf(t testing.TB, parent *x509.Certificate, parentKey crypto.Signer, subj pkix.Name) ([]*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      subj,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{c, parent}, key
}

func mustKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// csrOpts describes a test CSR.
type csrOpts struct {
	subject   pkix.Name
	dns       []string
	exts      []pkix.Extension
	challenge string // challengePassword, "" for none
}

func makeCSR(t testing.TB, key crypto.Signer, o csrOpts) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: o.subject, DNSNames: o.dns, ExtraExtensions: o.exts}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	if o.challenge != "" {
		der = addChallengePassword(t, der, o.challenge, key)
	}
	return der
}

// addChallengePassword re-signs csr with a challengePassword attribute added
// (crypto/x509 cannot emit it).
func addChallengePassword(t testing.TB, der []byte, pw string, key crypto.Signer) []byte {
	t.Helper()
	var outer struct {
		TBS    asn1.RawValue
		Alg    pkix.AlgorithmIdentifier
		SigVal asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		t.Fatal(err)
	}
	var tbs struct {
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes []asn1.RawValue `asn1:"tag:0"`
	}
	if _, err := asn1.Unmarshal(outer.TBS.FullBytes, &tbs); err != nil {
		t.Fatal(err)
	}
	val, _ := asn1.MarshalWithParams(pw, "utf8")
	attr, err := asn1.Marshal(attribute{Type: OIDChallengePassword, Values: []asn1.RawValue{{FullBytes: val}}})
	if err != nil {
		t.Fatal(err)
	}
	tbs.Attributes = append(tbs.Attributes, asn1.RawValue{FullBytes: attr})
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		t.Fatal(err)
	}
	h := crypto.SHA256.New()
	h.Write(tbsDER)
	sig, err := key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	outer.TBS = asn1.RawValue{FullBytes: tbsDER}
	outer.SigVal = asn1.BitString{Bytes: sig, BitLength: len(sig) * 8}
	out, err := asn1.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// quietLogger discards logs.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testDNSTemplate is the SAN template of the test servers' name policy.
const testDNSTemplate = "{{ .SerialNumber }}.pledges.test.example"

// testNamePolicy names devices serialNumber=<serial> with the DNS name
// <serial>.pledges.test.example.
func testNamePolicy(t testing.TB) NamePolicy {
	t.Helper()
	tmpl, err := ParseNameTemplate(NameDNS, testDNSTemplate)
	if err != nil {
		t.Fatal(err)
	}
	return SerialNumberNames(tmpl)
}

// newTestServer builds a Server on the shared embedded CA.
func newTestServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	p := newTestPKI(t)
	all := append([]Option{WithPolicy(AllowAuthenticated), WithLogger(quietLogger()),
		WithCSRPolicy(&CSRPolicy{RequireSerialNumber: true}), WithNamePolicy(testNamePolicy(t))}, opts...)
	s, err := NewServer(p.ca, all...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// do sends a request through s with peer in the context (nil: none).
func do(t testing.TB, s http.Handler, method, path string, body []byte, peer *Peer, ctxf ...func(context.Context) context.Context) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	r := httptest.NewRequest(method, path, rd)
	ctx := r.Context()
	if peer != nil {
		ctx = WithPeer(ctx, *peer)
	}
	for _, f := range ctxf {
		ctx = f(ctx)
	}
	r = r.WithContext(ctx)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// tlsState builds a ConnectionState carrying chain as verified peer chain.
func tlsState(chain []*x509.Certificate) *tls.ConnectionState {
	return &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true,
		PeerCertificates: chain, VerifiedChains: [][]*x509.Certificate{chain}}
}
