package httpapi_test

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/httpapi"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
	"github.com/landfall-io/landfall/pkg/voucher"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// appendixC is the directory of the RFC 8995 Appendix C artifacts.
const appendixC = "../../../pkg/voucher/testdata/rfc8995-appendix-c" // the repository's one copy of RFC 8995 Appendix C

// appendixCTime is when the Appendix C certificates are all valid.
var appendixCTime = time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC)

const appendixCSerial = "00-D0-E5-F2-00-02"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(appendixC, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readB64(t testing.TB, name string) []byte {
	t.Helper()
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(readFile(t, name))), ""))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func readCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	c, err := masa.ParseCertificatePEMOrDER(readFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	blk, _ := pem.Decode(readFile(t, name))
	k, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// env is a MASA on a fresh database: the service, its store, and both
// listeners over real TLS / HTTP.
type env struct {
	t      testing.TB
	store  *sqlstore.Store
	svc    *masa.Service
	device *httptest.Server
	admin  *httptest.Server
	now    time.Time
	ca     *x509.Certificate
	caKey  crypto.Signer
}

type envConfig struct {
	ca         *x509.Certificate
	caKey      crypto.Signer
	signer     *x509.Certificate
	signerKey  crypto.Signer
	now        time.Time
	maxBody    int64
	maxConns   int32
	wrap       func(http.Handler) http.Handler // around both handlers
	auditLimit int
	requireTLS bool
}

// appendixCConfig runs the MASA as the RFC's "highway" MASA: vendor.crt is
// the IDevID CA, masa.crt signs vouchers, the clock is 2021-05-01.
func appendixCConfig(t testing.TB) envConfig {
	return envConfig{
		ca: readCert(t, "vendor.crt"), caKey: readKey(t, "vendor.key"),
		signer: readCert(t, "masa.crt"), signerKey: readKey(t, "masa.key"),
		now: appendixCTime,
	}
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	dsn := testkit.Database(t, migrations.MASASchema)
	store, err := sqlstore.Open(context.Background(), dsn, cfg.maxConns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	e := &env{t: t, store: store, now: cfg.now, ca: cfg.ca, caKey: cfg.caKey}
	svc, err := masa.New(masa.Config{
		Store:               store,
		Signer:              &voucher.Signer{Cert: cfg.signer, Key: cfg.signerKey},
		IDevIDCA:            cfg.ca,
		IDevIDKey:           cfg.caKey,
		MASAURL:             "masa.example.com",
		AuditLogLimit:       cfg.auditLimit,
		RequireRegistrarTLS: cfg.requireTLS,
		Clock:               func() time.Time { return e.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	metrics := httpapi.NewMetrics()
	wrap := cfg.wrap
	if wrap == nil {
		wrap = func(h http.Handler) http.Handler { return h }
	}
	e.device = httptest.NewUnstartedServer(wrap(httpapi.DeviceHandler(svc, httpapi.DeviceOptions{MaxBody: cfg.maxBody, Metrics: metrics})))
	// An ECDSA P-256 certificate like the one `masa init` makes (httptest's
	// default is RSA-2048, which would dominate handshake costs).
	e.device.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{listenerCert(t)}}
	e.device.StartTLS()
	t.Cleanup(e.device.Close)
	e.admin = httptest.NewServer(wrap(httpapi.AdminHandler(svc, httpapi.AdminOptions{Metrics: metrics})))
	t.Cleanup(e.admin.Close)
	return e
}

// token makes an admin API token with the role.
func (e *env) token(role masa.Role) string {
	e.t.Helper()
	_, secret, err := e.svc.CreateToken(context.Background(), "test-"+string(role), role)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// client returns an HTTPS client for the device listener, presenting cert
// as its TLS client certificate when given.
func (e *env) client(cert *tls.Certificate) *http.Client {
	tr := e.device.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: tr}
}

// listenerCert is a self-signed ECDSA P-256 server certificate for 127.0.0.1.
func listenerCert(t testing.TB) tls.Certificate {
	t.Helper()
	c, key := testkit.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "masa.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"example.com"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, nil, nil)
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key}
}
