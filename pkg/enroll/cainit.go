package enroll

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// DomainCAOptions configures GenerateDomainCA.
type DomainCAOptions struct {
	// Name is the domain, used in the CA subjects (e.g. "example.net").
	Name string
	// RootValidity and IssuerValidity default to 20 and 10 years.
	RootValidity, IssuerValidity time.Duration
	// Curve of both CA keys; default P-384. P-256 verifies about five times
	// faster in Go, which matters to a registrar and its pledges that
	// check these signatures on every onboarding.
	Curve elliptic.Curve
}

// File names GenerateDomainCA writes in its directory.
const (
	RootCertFileName   = "root_ca.crt"
	RootKeyFileName    = "root_ca.key"
	IssuerCertFileName = "issuing_ca.crt"
	IssuerKeyFileName  = "issuing_ca.key"
)

// GenerateDomainCA is the init step for an embedded CA: it creates a root
// and an issuing CA (ECDSA on opts.Curve, default P-384; path length 0
// under the root) and writes
// them as PEM into dir (keys with mode 0600, unencrypted: protect dir, or
// move root_ca.key offline; the registrar needs only the issuing key). It
// refuses to overwrite existing files. The returned EmbeddedConfig points at
// the files.
func GenerateDomainCA(dir string, opts DomainCAOptions) (EmbeddedConfig, error) {
	if opts.Name == "" {
		return EmbeddedConfig{}, errors.New("enroll: domain CA needs a name")
	}
	if opts.RootValidity == 0 {
		opts.RootValidity = 20 * 365 * 24 * time.Hour
	}
	if opts.IssuerValidity == 0 {
		opts.IssuerValidity = 10 * 365 * 24 * time.Hour
	}
	for _, n := range []string{RootCertFileName, RootKeyFileName, IssuerCertFileName, IssuerKeyFileName} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return EmbeddedConfig{}, fmt.Errorf("enroll: %s already exists", filepath.Join(dir, n))
		}
	}
	root, rootKey, issuer, issuerKey, err := NewDomainCA(opts)
	if err != nil {
		return EmbeddedConfig{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return EmbeddedConfig{}, err
	}
	write := func(name, typ string, der []byte, mode os.FileMode) error {
		b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
		return os.WriteFile(filepath.Join(dir, name), b, mode)
	}
	rk, err := x509.MarshalPKCS8PrivateKey(rootKey)
	if err != nil {
		return EmbeddedConfig{}, err
	}
	ik, err := x509.MarshalPKCS8PrivateKey(issuerKey)
	if err != nil {
		return EmbeddedConfig{}, err
	}
	for _, f := range []struct {
		name, typ string
		der       []byte
		mode      os.FileMode
	}{
		{RootCertFileName, "CERTIFICATE", root.Raw, 0o644},
		{RootKeyFileName, "PRIVATE KEY", rk, 0o600},
		{IssuerCertFileName, "CERTIFICATE", issuer.Raw, 0o644},
		{IssuerKeyFileName, "PRIVATE KEY", ik, 0o600},
	} {
		if err := write(f.name, f.typ, f.der, f.mode); err != nil {
			return EmbeddedConfig{}, fmt.Errorf("enroll: %w", err)
		}
	}
	return EmbeddedConfig{
		RootFile:      filepath.Join(dir, RootCertFileName),
		IssuerFile:    filepath.Join(dir, IssuerCertFileName),
		IssuerKeyFile: filepath.Join(dir, IssuerKeyFileName),
	}, nil
}

// NewDomainCA creates a root and an issuing CA in memory.
func NewDomainCA(opts DomainCAOptions) (root *x509.Certificate, rootKey crypto.Signer, issuer *x509.Certificate, issuerKey crypto.Signer, err error) {
	if opts.RootValidity == 0 {
		opts.RootValidity = 20 * 365 * 24 * time.Hour
	}
	if opts.IssuerValidity == 0 {
		opts.IssuerValidity = 10 * 365 * 24 * time.Hour
	}
	curve := opts.Curve
	if curve == nil {
		curve = elliptic.P384()
	}
	rk, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ik, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	now := time.Now().Add(-time.Minute)
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
		return n
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: opts.Name + " Root CA"},
		NotBefore:             now,
		NotAfter:              now.Add(opts.RootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rk.Public(), rk)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if root, err = x509.ParseCertificate(rootDER); err != nil {
		return nil, nil, nil, nil, err
	}
	issTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: opts.Name + " Issuing CA"},
		NotBefore:             now,
		NotAfter:              now.Add(opts.IssuerValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	issDER, err := x509.CreateCertificate(rand.Reader, issTmpl, root, ik.Public(), rk)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if issuer, err = x509.ParseCertificate(issDER); err != nil {
		return nil, nil, nil, nil, err
	}
	return root, rk, issuer, ik, nil
}
