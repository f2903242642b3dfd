package enroll

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkSimpleEnroll measures /simpleenroll through the HTTP handler with
// the embedded smallstep CA: base64 decoding, CSR parsing and signature
// check, the CSR policy, the smallstep template and signature, and the
// certs-only encoding. Baseline: BenchmarkCreateCertificateBaseline, the
// bare crypto/x509 signature every issuance must pay.
func BenchmarkSimpleEnroll(b *testing.B) {
	p := newTestPKI(b)
	s := newTestServer(b)
	chain, key := p.idevid(b, "SN-BENCH")
	body := string(encodeBase64Lines(makeCSR(b, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-BENCH"}})))
	ctx := WithPeer(httptest.NewRequest("GET", "/", nil).Context(), Peer{Chain: chain})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("POST", est+"/simpleenroll", strings.NewReader(body)).WithContext(ctx)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkCreateCertificateBaseline signs a comparable leaf certificate
// with crypto/x509 directly (same issuing key, P-384).
func BenchmarkCreateCertificateBaseline(b *testing.B) {
	p := newTestPKI(b)
	key := mustKey(b)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{SerialNumber: "SN-BENCH"},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if _, err := x509.CreateCertificate(rand.Reader, tmpl, p.domainIssuer, key.Public(), p.domainKey); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
