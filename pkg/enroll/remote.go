package enroll

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/cas/apiv1"
	"github.com/smallstep/certificates/cas/stepcas"
	"go.step.sm/crypto/pemutil"
)

// RemoteProvisionerTemplate is the x509 template the remote step-ca's JWK
// provisioner must carry for Landfall. The registrar decides the names
// (CertificateNames) and sends them in the one-time provisioning token:
// the token subject is the device's serial number and the token's SANs are
// the policy's. The template builds the certificate from the token alone,
// never from the CSR (.Insecure.CR), so a CSR that slipped past the
// registrar still cannot name itself: subject CN and serialNumber both the
// token subject (NamesForSerial's subject),
// the token's SANs (none when the token has none; step-ca would otherwise
// add the token subject as a DNS name), key usage digitalSignature,
// extended key usage clientAuth alone. The registrar checks each
// certificate the remote CA returns against its policy and withholds one
// that differs (a provisioner with another template).
const RemoteProvisionerTemplate = `{
	"subject": {"commonName": {{ toJson .Token.sub }}, "serialNumber": {{ toJson .Token.sub }}},
	"sans": {{ if .Token.sans }}{{ toJson .SANs }}{{ else }}[]{{ end }},
	"keyUsage": ["digitalSignature"],
	"extKeyUsage": ["clientAuth"],
	"basicConstraints": {"isCA": false}
}`

// RemoteConfig configures RemoteCA.
type RemoteConfig struct {
	// URL of the step-ca, e.g. "https://ca.internal:9000".
	URL string
	// RootFingerprint is the SHA-256 (hex) of the CA's root certificate;
	// the TLS connection and the root are pinned to it.
	RootFingerprint string
	// Provisioner is the name of the JWK provisioner on the CA.
	Provisioner string
	// ProvisionerPassword decrypts the provisioner's key. It must not be
	// empty: stepcas would otherwise prompt on a terminal.
	ProvisionerPassword []byte
	// ProvisionerKeyFile optionally holds the provisioner's private JWK
	// (encrypted); by default the encrypted key is fetched from the CA.
	ProvisionerKeyFile string
	// Profile applies on the registrar side: the validity it asks for. The
	// names travel in the provisioning token; key usages are decided by
	// the remote provisioner's template (see RemoteProvisionerTemplate).
	Profile IssuanceProfile
	// HTTPTimeout bounds the calls made during NewRemoteCA (default 30 s).
	HTTPTimeout time.Duration
}

// RemoteCA enrolls through a remote step-ca in RA mode (DESIGN decision 6):
// a local smallstep authority applies the registrar's issuance profile and
// hands the result to cas/stepcas, which signs a one-time JWK token and asks
// the remote CA to sign the CSR. The CA key never lives on the registrar.
type RemoteCA struct {
	authorityCA
}

// NewRemoteCA connects to the remote step-ca: it fetches the root pinned by
// RootFingerprint and the intermediates, decrypts the provisioner key, and
// builds the local RA authority.
func NewRemoteCA(ctx context.Context, cfg RemoteConfig) (*RemoteCA, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("enroll: remote CA needs a URL")
	case cfg.RootFingerprint == "":
		return nil, errors.New("enroll: remote CA needs the root fingerprint")
	case cfg.Provisioner == "":
		return nil, errors.New("enroll: remote CA needs a JWK provisioner name")
	case len(cfg.ProvisionerPassword) == 0:
		return nil, errors.New("enroll: remote CA needs the provisioner password")
	}
	fp := strings.ToLower(strings.ReplaceAll(cfg.RootFingerprint, ":", ""))
	svc, err := stepcas.New(ctx, apiv1.Options{
		Type:                            apiv1.StepCAS,
		CertificateAuthority:            cfg.URL,
		CertificateAuthorityFingerprint: fp,
		CertificateIssuer: &apiv1.CertificateIssuer{
			Type:        "jwk",
			Provisioner: cfg.Provisioner,
			Password:    string(cfg.ProvisionerPassword),
			Key:         cfg.ProvisionerKeyFile,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("enroll: remote CA: %w", err)
	}
	rootResp, err := svc.GetCertificateAuthority(&apiv1.GetCertificateAuthorityRequest{})
	if err != nil {
		return nil, fmt.Errorf("enroll: remote CA root: %w", err)
	}
	root := rootResp.RootCertificate
	if sum := sha256.Sum256(root.Raw); hex.EncodeToString(sum[:]) != fp {
		return nil, errors.New("enroll: remote CA root does not match the pinned fingerprint")
	}
	timeout := cfg.HTTPTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	inters, err := fetchIntermediates(ctx, cfg.URL, root, timeout)
	if err != nil {
		return nil, err
	}
	prof, err := compileProfile(cfg.Profile)
	if err != nil {
		return nil, err
	}
	auth, err := authority.NewEmbedded(
		authority.WithX509RootCerts(root),
		authority.WithX509CAService(raService{svc}),
		authority.WithQuietInit(),
	)
	if err != nil {
		return nil, fmt.Errorf("enroll: RA authority: %w", err)
	}
	caCerts := append(append([]*x509.Certificate(nil), inters...), root)
	var issuer *x509.Certificate
	if len(inters) > 0 {
		issuer = inters[0]
	}
	return &RemoteCA{authorityCA{auth: auth, profile: prof, checkNames: remoteNames, caCerts: caCerts, issuer: issuer, now: time.Now}}, nil
}

// fetchIntermediates reads /intermediates.pem over TLS verified against the
// pinned root, and checks that the chain leads to it.
func fetchIntermediates(ctx context.Context, base string, root *x509.Certificate, timeout time.Duration) ([]*x509.Certificate, error) {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	hc := &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/intermediates.pem", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enroll: remote CA intermediates: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("enroll: remote CA intermediates: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	certs, err := pemutil.ParseCertificateBundle(b)
	if err != nil {
		return nil, fmt.Errorf("enroll: remote CA intermediates: %w", err)
	}
	chain := append(append([]*x509.Certificate(nil), certs...), root)
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return nil, fmt.Errorf("enroll: remote CA intermediates do not lead to the pinned root: %w", err)
		}
	}
	return certs, nil
}

// remoteNames refuses names the remote CA cannot issue exactly: its token
// carries one subject string, which RemoteProvisionerTemplate makes both
// the commonName and the serialNumber, so the subject must be
// CN=<serial>,serialNumber=<serial> (NamesForSerial's).
func remoteNames(n *CertificateNames) error {
	want := pkix.Name{SerialNumber: n.Subject.SerialNumber, CommonName: n.Subject.SerialNumber}
	if n.Subject.SerialNumber == "" || n.Subject.String() != want.String() {
		return fmt.Errorf("enroll: the remote CA issues subject CN=<serial>,serialNumber=<serial> only, not %q", n.Subject.String())
	}
	return nil
}

// raService adapts stepcas to Landfall's names. stepcas names the token
// subject after the template's commonName, or its first SAN; Landfall's
// remote template reads the serial number from the token subject, so the
// token subject is always the policy's serialNumber, and the token's SANs
// are the policy's SANs (the template carries req.Names, see signOptions).
type raService struct {
	*stepcas.StepCAS
}

func (r raService) CreateCertificate(req *apiv1.CreateCertificateRequest) (*apiv1.CreateCertificateResponse, error) {
	if t := req.Template; t != nil {
		cp := *t
		cp.Subject.CommonName = t.Subject.SerialNumber
		r2 := *req
		r2.Template = &cp
		req = &r2
	}
	return r.StepCAS.CreateCertificate(req)
}

var _ CA = (*RemoteCA)(nil)
