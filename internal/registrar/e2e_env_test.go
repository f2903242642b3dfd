package registrar_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/httpapi"
	"github.com/landfall-io/landfall/internal/masa/pgstore"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

// env is a whole deployment in one process: a real MASA on PostgreSQL
// behind its own TLS listener, two registrar replicas sharing one
// PostgreSQL database, each with its public, internal and direct
// listeners, and a TLS-terminating round-robin load balancer in front of
// the replicas' public listeners, without stickiness.
type env struct {
	t        testing.TB
	masaKeys *masa.Keys
	masaSvc  *masa.Service
	masaSrv  *httptest.Server
	ownerID  int64
	state    *registrar.State
	pool     *pgxpool.Pool
	store    *store.Store
	replicas []*registrar.Registrar
	direct   []*httptest.Server
	lb       *httptest.Server
	lbCount  atomic.Int64
	mfrID    int64
	approval string
}

type envOptions struct {
	approval string
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, approval: o.approval}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The manufacturer: keys, database, service, TLS listener.
	masaDir := t.TempDir()
	var err error
	e.masaKeys, err = masa.InitKeys(masaDir, masa.InitOptions{Organization: "Test Manufacturer", Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	masaDSN := testpg.Database(t)
	if _, err := pgstore.Migrate(masaDSN); err != nil {
		t.Fatal(err)
	}
	mstore, err := pgstore.Open(ctx, masaDSN, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mstore.Close)
	e.masaSrv = httptest.NewUnstartedServer(nil)
	e.masaSrv.TLS = &tls.Config{Certificates: []tls.Certificate{e.masaKeys.TLS}, ClientAuth: tls.RequestClientCert}
	e.masaSrv.StartTLS()
	t.Cleanup(e.masaSrv.Close)
	e.masaSvc, err = masa.New(masa.Config{
		Store:     mstore,
		Signer:    &voucher.Signer{Cert: e.masaKeys.SignerCert, Key: e.masaKeys.SignerKey},
		IDevIDCA:  e.masaKeys.CACert,
		IDevIDKey: e.masaKeys.CAKey,
		MASAURL:   e.masaSrv.URL,
		Logger:    quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.masaSrv.Config.Handler = httpapi.DeviceHandler(e.masaSvc, httpapi.DeviceOptions{Logger: quiet})

	// The owner: the registrar's state, database and trusted manufacturer.
	stateDir := filepath.Join(t.TempDir(), "registrar")
	if err := registrar.InitState(stateDir, registrar.InitOptions{Domain: "example.net", DNSNames: []string{"registrar.example.net", "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
		t.Fatal(err)
	}
	if e.state, err = registrar.LoadState(stateDir); err != nil {
		t.Fatal(err)
	}
	owner, err := e.masaSvc.CreateOwner(ctx, "example.net", e.state.DomainRoot.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.ownerID = owner.ID
	regDSN := testpg.Database(t)
	if _, err := migrations.Up(regDSN, migrations.RegistrarSchema); err != nil {
		t.Fatal(err)
	}
	if e.pool, err = pgxpool.New(ctx, regDSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	e.store = store.New(e.pool)
	m, err := e.store.CreateManufacturer(ctx, store.Manufacturer{
		Name: "Test Manufacturer", IDevIDAnchor: e.masaKeys.CACert.Raw, MASAAnchor: e.masaKeys.CACert.Raw,
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.mfrID = m.ID

	// Two replicas and the load balancer.
	var publics []*url.URL
	for _, id := range []string{"replica-a", "replica-b"} {
		pub, direct := e.startReplica(id, quiet)
		publics = append(publics, pub)
		e.direct = append(e.direct, direct)
	}
	e.lb = httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(publics[e.lbCount.Add(1)%int64(len(publics))])
		pr.SetXForwarded()
	}})
	t.Cleanup(e.lb.Close)
	return e
}

// startReplica runs one registrar replica with its listeners.
func (e *env) startReplica(id string, log *slog.Logger) (public *url.URL, direct *httptest.Server) {
	t := e.t
	ca, err := enroll.NewEmbeddedCA(e.state.DomainCA)
	if err != nil {
		t.Fatal(err)
	}
	domainPool := x509.NewCertPool()
	domainPool.AddCert(e.state.DomainRoot)
	forward := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{e.state.TLSCert}, RootCAs: domainPool,
	}}}
	rg, err := registrar.New(registrar.Config{
		ReplicaID:      id,
		SessionKey:     e.state.SessionKey,
		ContextKey:     e.state.ContextKey,
		TLSCertificate: e.state.TLSCert,
		Approval:       e.approval,
		MASA:           registrar.MASAClient{Timeout: 10 * time.Second, Attempts: 2},
		Logger:         log,
	}, e.pool, ca, forward)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rg.Close)
	internal := httptest.NewUnstartedServer(rg.InternalHandler())
	internal.TLS = &tls.Config{Certificates: []tls.Certificate{e.state.TLSCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: domainPool}
	internal.StartTLS()
	t.Cleanup(internal.Close)
	iu, _ := url.Parse(internal.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rg.Run(ctx, iu) }()
	t.Cleanup(func() { cancel(); <-done })
	pub := httptest.NewServer(rg.PublicHandler())
	t.Cleanup(pub.Close)
	direct = httptest.NewUnstartedServer(rg.DeviceHandler())
	direct.TLS = rg.DirectTLSConfig()
	direct.StartTLS()
	t.Cleanup(direct.Close)
	e.replicas = append(e.replicas, rg)
	pu, _ := url.Parse(pub.URL)
	return pu, direct
}

// newDevice has the MASA mint an IDevID for serial (its factory line) and
// assigns the device to the registrar's domain (its sales process).
func (e *env) newDevice(serial string, owned bool) tls.Certificate {
	t := e.t
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: serial, CommonName: serial}}, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := e.masaSvc.IssueIDevID(ctx, masa.IssueRequest{CSR: csr, Actor: "factory"})
	if err != nil {
		t.Fatal(err)
	}
	if owned {
		if _, err := e.masaSvc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{serial}}, e.ownerID, "sales"); err != nil {
			t.Fatal(err)
		}
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// pledgeConfig is a pledge of mode reaching the deployment: the ATLS modes
// through the load balancer, direct mode at the first replica.
func (e *env) pledgeConfig(mode string, idevid tls.Certificate) pledge.Config {
	roots := x509.NewCertPool()
	roots.AddCert(e.masaKeys.CACert)
	cfg := pledge.Config{
		RegistrarURL:        e.lb.URL,
		Mode:                mode,
		IDevID:              idevid,
		ManufacturerAnchors: roots,
		MASACerts:           []*x509.Certificate{e.masaKeys.SignerCert},
		HTTP:                e.lb.Client(),
		MaxWait:             time.Minute,
		Sleep:               func(time.Duration) <-chan time.Time { return time.After(0) },
	}
	if mode == pledge.ModeDirect {
		cfg.RegistrarURL = e.direct[0].URL
	}
	return cfg
}
