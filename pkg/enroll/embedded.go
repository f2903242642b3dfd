package enroll

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/smallstep/certificates/authority"
	"github.com/smallstep/certificates/authority/provisioner"
	"github.com/smallstep/certificates/errs"
	"go.step.sm/crypto/pemutil"
	"go.step.sm/crypto/x509util"
)

// Defaults of IssuanceProfile.
const (
	DefaultValidity = 365 * 24 * time.Hour
	DefaultBackdate = time.Minute
)

// IssuanceProfile is what the registrar puts into every domain certificate
// (LDevID) it issues, from configuration. The names come from the
// request's CertificateNames and the usages are fixed (see leafCertificate);
// neither is configurable here, so that no profile can turn a domain
// certificate into a server or registrar certificate.
type IssuanceProfile struct {
	// Validity of issued certificates (default DefaultValidity). NotAfter
	// never exceeds the issuing CA's.
	Validity time.Duration
	// Backdate moves NotBefore back to tolerate clock skew (default
	// DefaultBackdate).
	Backdate time.Duration
}

// profile is a compiled IssuanceProfile.
type profile struct {
	IssuanceProfile
}

func compileProfile(p IssuanceProfile) (*profile, error) {
	if p.Validity == 0 {
		p.Validity = DefaultValidity
	}
	if p.Backdate == 0 {
		p.Backdate = DefaultBackdate
	}
	if p.Validity < 0 || p.Backdate < 0 {
		return nil, errors.New("enroll: negative validity or backdate")
	}
	return &profile{IssuanceProfile: p}, nil
}

// leafCertificate is a domain certificate as smallstep reads it (the JSON
// form of x509util.Certificate): subject and subjectAltNames from the
// request's CertificateNames (never from the CSR), key usage
// digitalSignature (RFC 5280 section 4.2.1.3; enough for TLS client
// authentication with any key type), extended key usage id-kp-clientAuth
// alone (section 4.2.1.12: never serverAuth, never id-kp-cmcRA, which
// marks registrars, RFC 8995 section 2.6.1), and never a CA.
type leafCertificate struct {
	Subject          x509util.Subject                  `json:"subject"`
	SANs             []x509util.SubjectAlternativeName `json:"sans"`
	KeyUsage         []string                          `json:"keyUsage"`
	ExtKeyUsage      []string                          `json:"extKeyUsage"`
	BasicConstraints struct {
		IsCA bool `json:"isCA"`
	} `json:"basicConstraints"`
}

// leafOptions is a provisioner.CertificateOptions that hands smallstep the
// leaf's JSON, which is what executing a certificate template produces,
// without parsing a template (text/template and sprig's function map,
// some 80 µs) for every certificate.
type leafOptions []byte

// Options implements provisioner.CertificateOptions.
func (l leafOptions) Options(provisioner.SignOptions) []x509util.Option {
	return []x509util.Option{func(_ *x509.CertificateRequest, o *x509util.Options) error {
		o.CertBuffer = bytes.NewBuffer(l)
		return nil
	}}
}

// newLeafOptions is the leaf of names.
func newLeafOptions(names *CertificateNames) (leafOptions, error) {
	leaf := leafCertificate{
		Subject:     templateSubject(names.Subject),
		SANs:        templateSANs(names),
		KeyUsage:    []string{"digitalSignature"},
		ExtKeyUsage: []string{"clientAuth"},
	}
	return json.Marshal(leaf)
}

// templateSubject converts a policy subject to smallstep's form.
func templateSubject(n pkix.Name) x509util.Subject {
	return x509util.Subject{
		Country:            n.Country,
		Organization:       n.Organization,
		OrganizationalUnit: n.OrganizationalUnit,
		Locality:           n.Locality,
		Province:           n.Province,
		StreetAddress:      n.StreetAddress,
		PostalCode:         n.PostalCode,
		SerialNumber:       n.SerialNumber,
		CommonName:         n.CommonName,
		ExtraNames:         x509util.NewExtraNames(n.ExtraNames),
	}
}

// templateSANs converts policy SANs to smallstep's form.
func templateSANs(n *CertificateNames) []x509util.SubjectAlternativeName {
	var sans []x509util.SubjectAlternativeName
	for _, d := range n.DNSNames {
		sans = append(sans, x509util.SubjectAlternativeName{Type: x509util.DNSType, Value: d})
	}
	for _, e := range n.EmailAddresses {
		sans = append(sans, x509util.SubjectAlternativeName{Type: x509util.EmailType, Value: e})
	}
	for _, ip := range n.IPAddresses {
		sans = append(sans, x509util.SubjectAlternativeName{Type: x509util.IPType, Value: ip.String()})
	}
	for _, u := range n.URIs {
		sans = append(sans, x509util.SubjectAlternativeName{Type: x509util.URIType, Value: u.String()})
	}
	return sans
}

// signOptions returns the smallstep sign options for req: the leaf of
// req.Names, and the validity window.
func (p *profile) signOptions(req *EnrollRequest, issuer *x509.Certificate, now time.Time) (provisioner.SignOptions, []provisioner.SignOption, error) {
	tmpl, err := newLeafOptions(req.Names)
	if err != nil {
		return provisioner.SignOptions{}, nil, err
	}
	notBefore := now.Add(-p.Backdate)
	notAfter := now.Add(p.Validity)
	if issuer != nil && notAfter.After(issuer.NotAfter) {
		notAfter = issuer.NotAfter
	}
	validity := provisioner.CertificateModifierFunc(func(c *x509.Certificate, _ provisioner.SignOptions) error {
		c.NotBefore, c.NotAfter = notBefore, notAfter
		return nil
	})
	return provisioner.SignOptions{}, []provisioner.SignOption{tmpl, validity}, nil
}

// authorityCA is the part both backends share: a smallstep Authority that
// applies the IssuanceProfile and signs through its X.509 CA service
// (softcas with the domain CA key, or stepcas towards a remote step-ca).
type authorityCA struct {
	auth    *authority.Authority
	profile *profile
	// checkNames, when set, refuses names the backend cannot issue
	// exactly (the remote CA carries the subject in its token).
	checkNames func(*CertificateNames) error
	caCerts    []*x509.Certificate // issuing chain, then root
	issuer     *x509.Certificate   // for NotAfter clamping; nil if unknown
	now        func() time.Time
}

func (a *authorityCA) CACerts(context.Context) ([]*x509.Certificate, error) {
	return a.caCerts, nil
}

// Enroll signs req.CSR's key with req.Names (RFC 7030 section 4.2.1) and
// checks the result against them before returning it (checkIssued).
func (a *authorityCA) Enroll(ctx context.Context, req *EnrollRequest) (*Issued, error) {
	if req.Names == nil {
		return nil, errors.New("enroll: CA asked to sign without certificate names")
	}
	if err := req.Names.Validate(); err != nil {
		return nil, fmt.Errorf("enroll: certificate names: %w", err)
	}
	if a.checkNames != nil {
		if err := a.checkNames(req.Names); err != nil {
			return nil, err
		}
	}
	so, opts, err := a.profile.signOptions(req, a.issuer, a.now())
	if err != nil {
		return nil, err
	}
	chain, err := a.auth.SignWithContext(ctx, req.CSR, so, opts...)
	if err != nil {
		return nil, mapStepError(err)
	}
	if len(chain) == 0 {
		return nil, errors.New("enroll: CA returned no certificate")
	}
	if err := checkIssued(chain[0], req.Names); err != nil {
		return nil, err
	}
	return &Issued{Certificate: chain[0], Chain: a.fullChain(chain[1:])}, nil
}

// Reenroll signs the new CSR like Enroll: RFC 7030 re-enrollment may change
// the key (rekey), so it is a fresh signature over the checked CSR rather
// than smallstep's Renew of the old certificate.
func (a *authorityCA) Reenroll(ctx context.Context, req *EnrollRequest) (*Issued, error) {
	return a.Enroll(ctx, req)
}

func (a *authorityCA) ServerKeyGen(ctx context.Context, req *EnrollRequest) (*Issued, crypto.Signer, error) {
	return ServerKeyGenWith(ctx, req, a.Enroll)
}

// fullChain appends the root to chain when the CA left it out. The chain
// comes from our own CA service, so names are matched without re-verifying
// signatures (that would double the cost of an issuance).
func (a *authorityCA) fullChain(chain []*x509.Certificate) []*x509.Certificate {
	out := append([]*x509.Certificate(nil), chain...)
	if len(out) == 0 {
		return out
	}
	last := out[len(out)-1]
	if bytes.Equal(last.RawIssuer, last.RawSubject) {
		return out
	}
	for _, c := range a.caCerts {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && bytes.Equal(c.RawSubject, last.RawIssuer) {
			return append(out, c)
		}
	}
	return out
}

// mapStepError keeps smallstep's 4xx (a template or policy refusal) as a
// 4xx *Error and everything else as an internal error.
func mapStepError(err error) error {
	var se *errs.Error
	if errors.As(err, &se) && se.StatusCode() >= 400 && se.StatusCode() < 500 {
		return newError(se.StatusCode(), err, "CA refused the request")
	}
	return fmt.Errorf("enroll: CA: %w", err)
}

// EmbeddedConfig configures EmbeddedCA: the domain CA from files or from
// memory (memory wins), and the issuance profile.
type EmbeddedConfig struct {
	RootFile      string // PEM root certificate(s)
	IssuerFile    string // PEM issuing CA certificate, optionally followed by intermediates
	IssuerKeyFile string // PEM issuing CA private key
	// IssuerKeyPassword decrypts an encrypted IssuerKeyFile.
	IssuerKeyPassword []byte

	Root        *x509.Certificate
	IssuerChain []*x509.Certificate // issuing CA first
	IssuerKey   crypto.Signer

	Profile IssuanceProfile
}

// EmbeddedCA signs in-process with smallstep's authority.NewEmbedded and the
// domain CA key (DESIGN decision 6). It keeps no database: the registrar
// records issuances through the EST server's IssuedHook.
type EmbeddedCA struct {
	authorityCA
}

// NewEmbeddedCA loads the domain CA and builds the embedded authority.
func NewEmbeddedCA(cfg EmbeddedConfig) (*EmbeddedCA, error) {
	root, chain, key := cfg.Root, cfg.IssuerChain, cfg.IssuerKey
	if root == nil {
		if cfg.RootFile == "" {
			return nil, errors.New("enroll: embedded CA needs a root certificate")
		}
		roots, err := pemutil.ReadCertificateBundle(cfg.RootFile)
		if err != nil {
			return nil, fmt.Errorf("enroll: root: %w", err)
		}
		root = roots[0]
	}
	if len(chain) == 0 {
		if cfg.IssuerFile == "" {
			return nil, errors.New("enroll: embedded CA needs an issuing CA certificate")
		}
		var err error
		if chain, err = pemutil.ReadCertificateBundle(cfg.IssuerFile); err != nil {
			return nil, fmt.Errorf("enroll: issuer: %w", err)
		}
	}
	if key == nil {
		if cfg.IssuerKeyFile == "" {
			return nil, errors.New("enroll: embedded CA needs the issuing CA key")
		}
		var opts []pemutil.Options
		if len(cfg.IssuerKeyPassword) > 0 {
			opts = append(opts, pemutil.WithPassword(cfg.IssuerKeyPassword))
		}
		k, err := pemutil.Read(cfg.IssuerKeyFile, opts...)
		if err != nil {
			return nil, fmt.Errorf("enroll: issuer key: %w", err)
		}
		var ok bool
		if key, ok = k.(crypto.Signer); !ok {
			return nil, fmt.Errorf("enroll: issuer key is a %T, not a signer", k)
		}
	}
	if !publicKeysEqual(chain[0].PublicKey, key.Public()) {
		return nil, errors.New("enroll: issuing CA key does not match its certificate")
	}
	verifyChain := append(append([]*x509.Certificate(nil), chain...), root)
	for i := 0; i+1 < len(verifyChain); i++ {
		if err := verifyChain[i].CheckSignatureFrom(verifyChain[i+1]); err != nil {
			return nil, fmt.Errorf("enroll: issuing chain does not lead to the root: %w", err)
		}
	}
	prof, err := compileProfile(cfg.Profile)
	if err != nil {
		return nil, err
	}
	auth, err := authority.NewEmbedded(
		authority.WithX509RootCerts(root),
		authority.WithX509SignerChain(chain, key),
		authority.WithQuietInit(),
	)
	if err != nil {
		return nil, fmt.Errorf("enroll: embedded authority: %w", err)
	}
	caCerts := append(append([]*x509.Certificate(nil), chain...), root)
	return &EmbeddedCA{authorityCA{auth: auth, profile: prof, caCerts: caCerts, issuer: chain[0], now: time.Now}}, nil
}

// publicKeysEqual compares two public keys.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

var _ CA = (*EmbeddedCA)(nil)
