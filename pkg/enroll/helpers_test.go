package enroll

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
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
	val, _ := asn1.MarshalWithParams(pw, "utf8")
	return addAttribute(t, der, attribute{Type: OIDChallengePassword, Values: []asn1.RawValue{{FullBytes: val}}}, key)
}

// addAttributeForTest re-signs csr with an extra attribute whose value is
// an empty SEQUENCE.
func addAttributeForTest(t testing.TB, der []byte, oid asn1.ObjectIdentifier, key crypto.Signer) []byte {
	t.Helper()
	return addAttribute(t, der, attribute{Type: oid, Values: []asn1.RawValue{{FullBytes: []byte{0x30, 0}}}}, key)
}

// addAttribute re-signs the CSR der with key after appending attr to its
// attributes (RFC 2986 4.1).
func addAttribute(t testing.TB, der []byte, attr attribute, key crypto.Signer) []byte {
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
	tbs.Attributes = append(tbs.Attributes, asn1.RawValue{FullBytes: mustMarshal(t, attr)})
	tbsDER := mustMarshal(t, tbs)
	h := crypto.SHA256.New()
	h.Write(tbsDER)
	sig, err := key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	outer.TBS = asn1.RawValue{FullBytes: tbsDER}
	outer.SigVal = asn1.BitString{Bytes: sig, BitLength: len(sig) * 8}
	return mustMarshal(t, outer)
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

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
func bigOne() *big.Int                        { return big.NewInt(1) }
func randReader() io.Reader                   { return rand.Reader }
func errorsJoinWrap(err error) error          { return fmt.Errorf("wrapped: %w", err) }

var rsaKeyCache crypto.Signer

func mustRSAKey(t testing.TB) crypto.Signer {
	t.Helper()
	if rsaKeyCache == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKeyCache = k
	}
	return rsaKeyCache
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pkixName(serial string) pkix.Name { return pkix.Name{SerialNumber: serial} }

// multipartPart returns the body of the first part of type want.
func multipartPart(t testing.TB, contentType string, body []byte, want string) []byte {
	t.Helper()
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no %s part: %v", want, err)
		}
		mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if mt == want {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func mustEd25519(t testing.TB) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustParseCSRT(t testing.TB, der []byte) *x509.CertificateRequest {
	t.Helper()
	c, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
