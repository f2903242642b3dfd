package registrar

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/landfall-io/landfall/internal/pemfile"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// Files of a registrar state directory, written by InitState.
const (
	// The registrar certificate, then the issuing CA. One certificate is
	// TLS server (ATLS and direct), TLS client (to MASAs and between
	// replicas) and id-kp-cmcRA signer of voucher-requests: MASAs check that
	// the registrar the pledge pinned (proximity-registrar-cert) signed
	// the registrar voucher-request (RFC 8995 5.5).
	FileTLSCert    = "registrar.crt"
	FileTLSKey     = "registrar.key"
	FileSessionKey = "session.key" // hex, shared by all replicas
	FileContextKey = "context.key" // hex, 32 bytes, shared by all replicas
	DirDomainCA    = "domain-ca"
)

// OIDCmcRA is id-kp-cmcRA (RFC 6402): the EKU a MASA requires of the
// signer of a registrar voucher-request (RFC 8995 5.5), defined in
// pkg/voucher.
var OIDCmcRA = voucher.OIDCmcRA

// InitOptions configures InitState.
type InitOptions struct {
	Domain   string   // e.g. "example.net": CA subjects
	DNSNames []string // names of the registrar certificate (load balancer and replicas)
	IPs      []net.IP
	Validity time.Duration // of the registrar certificate; default 2 years
	// Curve of the domain CA keys; default P-256, which every pledge and
	// replica verifies several times per onboarding far faster than
	// P-384 (see BENCHMARKS.md).
	Curve elliptic.Curve
}

// State is what a registrar replica loads from its state directory.
type State struct {
	TLSCert    tls.Certificate
	SessionKey []byte
	ContextKey []byte
	DomainCA   enroll.EmbeddedConfig
	DomainRoot *x509.Certificate
}

// InitState creates a domain CA (root and issuing CA), the registrar
// certificate under it, and the shared session and context keys. It refuses to overwrite an existing state.
func InitState(dir string, o InitOptions) error {
	if o.Domain == "" {
		return errors.New("registrar init: a domain name is required")
	}
	if len(o.DNSNames) == 0 {
		o.DNSNames = []string{"registrar." + o.Domain}
	}
	if o.Validity == 0 {
		o.Validity = 2 * 365 * 24 * time.Hour
	}
	if _, err := os.Stat(filepath.Join(dir, FileTLSCert)); err == nil {
		return fmt.Errorf("registrar init: %s already holds a state", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if o.Curve == nil {
		o.Curve = elliptic.P256()
	}
	ca, err := enroll.GenerateDomainCA(filepath.Join(dir, DirDomainCA), enroll.DomainCAOptions{Name: o.Domain, Curve: o.Curve})
	if err != nil {
		return err
	}
	issuer, key, err := loadIssuer(ca)
	if err != nil {
		return err
	}
	now := time.Now()
	tlsTmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: o.DNSNames[0], Organization: []string{o.Domain}},
		DNSNames:    o.DNSNames,
		IPAddresses: o.IPs,
		NotBefore:   now.Add(-time.Minute),
		NotAfter:    now.Add(o.Validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		// clientAuth too: replicas authenticate to each other's internal
		// listeners, and the registrar to MASAs, with this certificate.
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{OIDCmcRA},
	}
	if err := issueToFiles(dir, FileTLSCert, FileTLSKey, tlsTmpl, issuer, key); err != nil {
		return err
	}
	for _, f := range []string{FileSessionKey, FileContextKey} {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// LoadState reads a state directory written by InitState.
func LoadState(dir string) (*State, error) {
	st := &State{}
	var err error
	if st.TLSCert, err = tls.LoadX509KeyPair(filepath.Join(dir, FileTLSCert), filepath.Join(dir, FileTLSKey)); err != nil {
		return nil, fmt.Errorf("registrar state: %w (run `registrar init`?)", err)
	}
	if st.SessionKey, err = readHexKey(filepath.Join(dir, FileSessionKey)); err != nil {
		return nil, err
	}
	if st.ContextKey, err = readHexKey(filepath.Join(dir, FileContextKey)); err != nil {
		return nil, err
	}
	caDir := filepath.Join(dir, DirDomainCA)
	st.DomainCA = enroll.EmbeddedConfig{
		RootFile:      filepath.Join(caDir, enroll.RootCertFileName),
		IssuerFile:    filepath.Join(caDir, enroll.IssuerCertFileName),
		IssuerKeyFile: filepath.Join(caDir, enroll.IssuerKeyFileName),
	}
	if st.DomainRoot, err = pemfile.Cert(st.DomainCA.RootFile); err != nil {
		return nil, err
	}
	return st, nil
}

func loadIssuer(ca enroll.EmbeddedConfig) (*x509.Certificate, crypto.Signer, error) {
	pair, err := tls.LoadX509KeyPair(ca.IssuerFile, ca.IssuerKeyFile)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	return cert, pair.PrivateKey.(crypto.Signer), nil
}

// issueToFiles makes a P-256 key, signs tmpl with the issuing CA and
// writes the certificate (followed by the issuer) and the key.
func issueToFiles(dir, certFile, keyFile string, tmpl, issuer *x509.Certificate, issuerKey crypto.Signer) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	var chain strings.Builder
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: issuer.Raw})
	if err := os.WriteFile(filepath.Join(dir, certFile), []byte(chain.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, keyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

func readHexKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("registrar state: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("registrar state: %s is not a hex key of at least 16 bytes", path)
	}
	return k, nil
}

// InternalServerTLS is the TLS of a replica's internal listener: only
// replicas get in. A certificate of the domain CA is not enough, since the
// same CA issues every enrolled pledge's LDevID; a replica certificate is
// one of the domain CA that also carries id-kp-cmcRA and serverAuth, which
// `registrar init` gives the registrar certificate and the CA's LDevID
// policy never grants (see isReplicaCertificate).
func (st *State) InternalServerTLS() *tls.Config {
	return &tls.Config{
		Certificates:     []tls.Certificate{st.TLSCert},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        st.domainPool(),
		MinVersion:       tls.VersionTLS13,
		VerifyConnection: requireReplicaPeer,
	}
}

// requireReplicaPeer refuses a TLS peer whose certificate is not a
// replica's.
func requireReplicaPeer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 || !isReplicaCertificate(cs.PeerCertificates[0]) {
		return errors.New("registrar: internal listener: the peer certificate is not a registrar replica's (id-kp-cmcRA and serverAuth required)")
	}
	return nil
}

// isReplicaCertificate reports whether c has the extended key usages of a
// registrar certificate: id-kp-cmcRA (RFC 6402) and serverAuth. The domain
// CA issues pledges clientAuth only.
func isReplicaCertificate(c *x509.Certificate) bool {
	ra, server := false, false
	for _, o := range c.UnknownExtKeyUsage {
		ra = ra || o.Equal(OIDCmcRA)
	}
	for _, u := range c.ExtKeyUsage {
		server = server || u == x509.ExtKeyUsageServerAuth
	}
	return ra && server
}

// ForwardClient is the HTTP client that forwards ATLS flights to other
// replicas' internal listeners, authenticating with the registrar
// certificate and trusting only the domain CA.
func (st *State) ForwardClient() *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		TLSClientConfig: &tls.Config{
			Certificates:     []tls.Certificate{st.TLSCert},
			RootCAs:          st.domainPool(),
			MinVersion:       tls.VersionTLS13,
			VerifyConnection: requireReplicaPeer,
		},
	}}
}

func (st *State) domainPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(st.DomainRoot)
	return pool
}
