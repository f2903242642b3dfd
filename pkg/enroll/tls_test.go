package enroll

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// estOverTLS runs a Server behind a real TLS 1.3 listener that requires
// client certificates from the manufacturer or the domain CA, as the
// registrar's direct (non-ATLS) EST port does.
func estOverTLS(t *testing.T, s *Server) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	p := newTestPKI(t)
	key := mustKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "registrar"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.domainIssuer, key.Public(), p.domainKey)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(p.mfgRoot)
	clientCAs.AddCert(p.domainRoot)
	srv := httptest.NewUnstartedServer(s)
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    clientCAs,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, p.domainIssuer.Raw}, PrivateKey: key}},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(p.domainRoot)
	return srv, roots
}

// dialEST opens one TLS connection with the given client chain and returns
// an EST client bound to it and the connection's tls-exporter value.
func dialEST(t *testing.T, srv *httptest.Server, roots *x509.CertPool, chain []*x509.Certificate, key crypto.Signer) (*Client, []byte) {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}
	if chain != nil {
		cert := tls.Certificate{PrivateKey: key}
		for _, c := range chain {
			cert.Certificate = append(cert.Certificate, c.Raw)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := conn.ConnectionState()
	binding := TLSExporter(&st)
	used := false
	tr := &http.Transport{DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
		if used {
			return nil, errors.New("test transport: one connection only")
		}
		used = true
		return conn, nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &Client{BaseURL: srv.URL + est, HTTPClient: &http.Client{Transport: tr}}, binding
}

func TestClientOverMutualTLS(t *testing.T) {
	p := newTestPKI(t)
	pol := &CSRPolicy{RequireSerialNumber: true, RequireChannelBinding: true}
	pending := map[string]bool{"SN-WAIT": true}
	s := newTestServer(t, WithCSRPolicy(pol), WithPolicy(func(_ context.Context, r *AuthzRequest) error {
		if pending[r.Peer.Leaf().Subject.SerialNumber] {
			return ErrPending(30*time.Second, "awaiting operator approval")
		}
		return AllowAuthenticated(context.Background(), r)
	}))
	srv, roots := estOverTLS(t, s)
	ctx := context.Background()
	idev, idevKey := p.idevid(t, "SN-TLS1")

	c, binding := dialEST(t, srv, roots, idev, idevKey)
	if len(binding) != 32 {
		t.Fatalf("tls-exporter length %d", len(binding))
	}
	caCerts, err := c.CACerts(ctx)
	if err != nil || len(caCerts) != 2 {
		t.Fatalf("CACerts: %v", err)
	}
	attrs, err := c.CSRAttrs(ctx)
	if err != nil || len(attrs) == 0 || !attrs[0].OID.Equal(OIDChallengePassword) {
		t.Fatalf("CSRAttrs %v: %v", attrs, err)
	}
	csr := makeCSR(t, idevKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-TLS1"}, challenge: ChannelBindingPassword(binding)})
	certs, err := c.SimpleEnroll(ctx, csr)
	if err != nil {
		t.Fatalf("SimpleEnroll with this session's binding: %v", err)
	}
	checkLDevID(t, p, certs[0], "SN-TLS1", idevKey.Public())

	// The same CSR replayed on another session fails the binding.
	c2, _ := dialEST(t, srv, roots, idev, idevKey)
	_, err = c2.SimpleEnroll(ctx, csr)
	var e *Error
	if !errors.As(err, &e) || e.Status != 403 {
		t.Fatalf("replayed CSR on another session: %v", err)
	}

	// Re-enroll over a session authenticated by the new LDevID.
	newKey := mustKey(t)
	c3, b3 := dialEST(t, srv, roots, []*x509.Certificate{certs[0], p.domainIssuer}, idevKey)
	recsr := makeCSR(t, newKey, csrOpts{subject: certs[0].Subject, dns: certs[0].DNSNames, challenge: ChannelBindingPassword(b3)})
	re, err := c3.SimpleReenroll(ctx, recsr)
	if err != nil {
		t.Fatalf("SimpleReenroll: %v", err)
	}
	checkLDevID(t, p, re[0], "SN-TLS1", newKey.Public())

	// Server key generation.
	c4, b4 := dialEST(t, srv, roots, idev, idevKey)
	kcerts, key, err := c4.ServerKeyGen(ctx, makeCSR(t, idevKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-TLS1"}, challenge: ChannelBindingPassword(b4)}))
	if err != nil {
		t.Fatalf("ServerKeyGen: %v", err)
	}
	checkLDevID(t, p, kcerts[0], "SN-TLS1", key.(crypto.Signer).Public())

	// No client certificate: 401.
	c5, _ := dialEST(t, srv, roots, nil, nil)
	if _, err = c5.SimpleEnroll(ctx, csr); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("anonymous enroll: %v", err)
	}

	// A device waiting for approval: 202 with Retry-After.
	wait, waitKey := p.idevid(t, "SN-WAIT")
	c6, b6 := dialEST(t, srv, roots, wait, waitKey)
	_, err = c6.SimpleEnroll(ctx, makeCSR(t, waitKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-WAIT"}, challenge: ChannelBindingPassword(b6)}))
	if !errors.As(err, &e) || e.Status != 202 || e.RetryAfter != 30*time.Second {
		t.Fatalf("pending device: %v", err)
	}
}
