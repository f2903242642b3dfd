package pledge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/oscore"
)

func testCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (tls.Certificate, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, SerialNumber: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	}
	signer, signerKey := parent, parentKey
	if parent == nil {
		signer, signerKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, c, key
}

// renewFixture is an ATLS server keeping contexts in a MemoryStore,
// counting the handshakes it starts.
type renewFixture struct {
	store      *oscore.MemoryStore
	srv        *atls.Server
	ts         *httptest.Server
	handshakes atomic.Int64
	certs      []tls.Certificate
	nextCert   atomic.Int64 // index into certs for the next handshake
	idevid     tls.Certificate
}

func newRenewFixture(t *testing.T) *renewFixture {
	f := &renewFixture{store: &oscore.MemoryStore{}}
	_, ca, caKey := testCert(t, "Test CA", nil, nil)
	a, _, _ := testCert(t, "registrar-a", ca, caKey)
	b, _, _ := testCert(t, "registrar-b", ca, caKey)
	f.certs = []tls.Certificate{a, b}
	f.idevid, _, _ = testCert(t, "PLEDGE-1", ca, caKey)
	srv, err := atls.NewServer(atls.ServerConfig{
		TLS: &tls.Config{
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &f.certs[f.nextCert.Load()], nil },
			ClientAuth:     tls.RequireAnyClientCert,
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName+" "+r.URL.Path+" "+string(body))
		}),
		Contexts:   f.store,
		CIDs:       &atls.MemoryCIDs{},
		SessionKey: []byte("0123456789abcdef0123456789abcdef"),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == atls.ContentTypeATLS && r.Header.Get("Cookie") == "" {
			f.handshakes.Add(1)
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { f.ts.Close(); srv.Close() })
	return f
}

func (f *renewFixture) config(mode string) *Config {
	return &Config{RegistrarURL: f.ts.URL, Mode: mode, IDevID: f.idevid, HTTP: f.ts.Client()}
}

func post(t *testing.T, l *link, path, body string) (string, error) {
	t.Helper()
	resp, err := l.client.Post("https://registrar"+path, "text/plain", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %q", path, resp.StatusCode, b)
	}
	return string(b), nil
}

// TestContextGoneRehandshakesOnce: when the registrar answers `401
// Security context not found` (profile 1.9), the pledge runs one new
// handshake and sends the request again under the new context, body and
// all; the link's channel binding follows the new session.
func TestContextGoneRehandshakesOnce(t *testing.T) {
	for _, mode := range []string{ModeATLSOSCORE, ModeATLSCOSE} {
		t.Run(mode, func(t *testing.T) {
			f := newRenewFixture(t)
			ctx := context.Background()
			l, err := connect(ctx, f.config(mode))
			if err != nil {
				t.Fatal(err)
			}
			defer l.close(ctx)
			if got, err := post(t, l, "/one", "first"); err != nil || got != "PLEDGE-1 /one first" {
				t.Fatalf("%q %v", got, err)
			}
			first, gen := l.binding()
			kid := l.renewing.session.Exported().SenderID
			if err := f.store.Delete(ctx, kid); err != nil {
				t.Fatal(err)
			}
			got, err := post(t, l, "/two", "second")
			if err != nil || got != "PLEDGE-1 /two second" {
				t.Fatalf("after the context was deleted: %q %v", got, err)
			}
			if n := f.handshakes.Load(); n != 2 {
				t.Fatalf("%d handshakes, want 2", n)
			}
			again, gen2 := l.binding()
			if gen2 != gen+1 || string(again) == string(first) {
				t.Fatal("the channel binding did not follow the new session")
			}
			newKid := l.renewing.session.Exported().SenderID
			if _, err := f.store.Get(ctx, newKid); err != nil {
				t.Fatalf("the new context is not stored: %v", err)
			}
			if got, err := post(t, l, "/three", ""); err != nil || got != "PLEDGE-1 /three " || f.handshakes.Load() != 2 {
				t.Fatalf("%q %v after %d handshakes", got, err, f.handshakes.Load())
			}
		})
	}
}

// TestRenewedHandshakeMustPresentTheSameRegistrar: before the voucher
// pins the domain CA, a new handshake that presents another registrar
// certificate is refused, and the request fails with the 401 that
// triggered it.
func TestRenewedHandshakeMustPresentTheSameRegistrar(t *testing.T) {
	f := newRenewFixture(t)
	ctx := context.Background()
	l, err := connect(ctx, f.config(ModeATLSOSCORE))
	if err != nil {
		t.Fatal(err)
	}
	defer l.close(ctx)
	f.nextCert.Store(1)
	if err := f.store.Delete(ctx, l.renewing.session.Exported().SenderID); err != nil {
		t.Fatal(err)
	}
	_, err = l.client.Get("https://registrar/x")
	var se *atls.StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 || !strings.Contains(err.Error(), "registrar certificate changed") {
		t.Fatalf("got %v", err)
	}
	if n := f.handshakes.Load(); n != 2 {
		t.Fatalf("%d handshakes, want 2", n)
	}
}
