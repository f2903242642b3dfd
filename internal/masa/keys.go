package masa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Key files in the MASA's key directory, all PEM. `masa init` writes them.
const (
	FileCACert     = "idevid-ca.crt"      // the manufacturer's IDevID CA
	FileCAKey      = "idevid-ca.key"      // its key (absent if IDevIDs are made elsewhere)
	FileSignerCert = "voucher-signer.crt" // the voucher-signing certificate
	FileSignerKey  = "voucher-signer.key"
	FileTLSCert    = "tls.crt" // the device-facing listener's certificate
	FileTLSKey     = "tls.key"
)

// Keys is the MASA's key material.
type Keys struct {
	CACert     *x509.Certificate
	CAKey      crypto.Signer // nil when the directory holds no CA key
	SignerCert *x509.Certificate
	SignerKey  crypto.Signer
	TLS        tls.Certificate
}

// InitOptions says what `masa init` creates or imports.
type InitOptions struct {
	Organization string        // subject O of created certificates
	Hosts        []string      // DNS names / IPs of the device-facing listener
	Validity     time.Duration // of created CA and signer certificates
	// Import these instead of creating (PEM files); the signer pair and the
	// CA pair are imported independently.
	ImportCACert, ImportCAKey         string
	ImportSignerCert, ImportSignerKey string
	Now                               time.Time
}

// InitKeys creates the key directory's files; it refuses to overwrite any.
func InitKeys(dir string, o InitOptions) (*Keys, error) {
	for _, f := range []string{FileCACert, FileCAKey, FileSignerCert, FileSignerKey, FileTLSCert, FileTLSKey} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("masa init: %s already exists; refusing to overwrite", filepath.Join(dir, f))
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Validity <= 0 {
		o.Validity = 20 * 365 * 24 * time.Hour
	}
	if o.Organization == "" {
		o.Organization = "Landfall MASA"
	}
	k := &Keys{}
	var err error
	if o.ImportCACert != "" {
		if k.CACert, err = readCertFile(o.ImportCACert); err != nil {
			return nil, err
		}
		if o.ImportCAKey != "" {
			if k.CAKey, err = readKeyFile(o.ImportCAKey); err != nil {
				return nil, err
			}
		}
	} else {
		k.CAKey, k.CACert, err = newCert(&x509.Certificate{
			Subject:               pkix.Name{Organization: []string{o.Organization}, CommonName: o.Organization + " IDevID CA"},
			NotBefore:             o.Now.Add(-time.Hour),
			NotAfter:              o.Now.Add(o.Validity),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}, nil, nil)
		if err != nil {
			return nil, err
		}
	}
	if o.ImportSignerCert != "" {
		if k.SignerCert, err = readCertFile(o.ImportSignerCert); err != nil {
			return nil, err
		}
		if k.SignerKey, err = readKeyFile(o.ImportSignerKey); err != nil {
			return nil, err
		}
	} else {
		if k.CAKey == nil {
			return nil, errors.New("masa init: creating the voucher signer needs the CA key; import the signer too")
		}
		k.SignerKey, k.SignerCert, err = newCert(&x509.Certificate{
			Subject:   pkix.Name{Organization: []string{o.Organization}, CommonName: o.Organization + " voucher signer"},
			NotBefore: o.Now.Add(-time.Hour),
			NotAfter:  o.Now.Add(o.Validity),
			KeyUsage:  x509.KeyUsageDigitalSignature,
		}, k.CACert, k.CAKey)
		if err != nil {
			return nil, err
		}
	}
	// The device-facing TLS certificate: from the CA when there is its key,
	// else self-signed.
	hosts := o.Hosts
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1"}
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{o.Organization}, CommonName: hosts[0]},
		NotBefore:   o.Now.Add(-time.Hour),
		NotAfter:    o.Now.Add(2 * 365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	var tlsKey crypto.Signer
	var tlsCert *x509.Certificate
	if k.CAKey != nil {
		tlsKey, tlsCert, err = newCert(tmpl, k.CACert, k.CAKey)
	} else {
		tlsKey, tlsCert, err = newCert(tmpl, nil, nil)
	}
	if err != nil {
		return nil, err
	}
	writes := []struct {
		name string
		pem  []byte
		mode os.FileMode
	}{
		{FileCACert, certPEM(k.CACert), 0o644},
		{FileSignerCert, certPEM(k.SignerCert), 0o644},
		{FileTLSCert, certPEM(tlsCert), 0o644},
	}
	for _, kk := range []struct {
		name string
		key  crypto.Signer
	}{{FileCAKey, k.CAKey}, {FileSignerKey, k.SignerKey}, {FileTLSKey, tlsKey}} {
		if kk.key == nil {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(kk.key)
		if err != nil {
			return nil, err
		}
		writes = append(writes, struct {
			name string
			pem  []byte
			mode os.FileMode
		}{kk.name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600})
	}
	for _, w := range writes {
		if err := os.WriteFile(filepath.Join(dir, w.name), w.pem, w.mode); err != nil {
			return nil, err
		}
	}
	return LoadKeys(dir)
}

// LoadKeys reads the key directory. The CA key is optional.
func LoadKeys(dir string) (*Keys, error) {
	k := &Keys{}
	var err error
	if k.CACert, err = readCertFile(filepath.Join(dir, FileCACert)); err != nil {
		return nil, err
	}
	if _, serr := os.Stat(filepath.Join(dir, FileCAKey)); serr == nil {
		if k.CAKey, err = readKeyFile(filepath.Join(dir, FileCAKey)); err != nil {
			return nil, err
		}
	}
	if k.SignerCert, err = readCertFile(filepath.Join(dir, FileSignerCert)); err != nil {
		return nil, err
	}
	if k.SignerKey, err = readKeyFile(filepath.Join(dir, FileSignerKey)); err != nil {
		return nil, err
	}
	if k.TLS, err = tls.LoadX509KeyPair(filepath.Join(dir, FileTLSCert), filepath.Join(dir, FileTLSKey)); err != nil {
		return nil, fmt.Errorf("masa: TLS key pair: %w", err)
	}
	return k, nil
}

func newCert(tmpl, parent *x509.Certificate, parentKey crypto.Signer) (crypto.Signer, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = randomSerial()
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// ParseCertificatePEMOrDER accepts one certificate as PEM or DER.
func ParseCertificatePEMOrDER(b []byte) (*x509.Certificate, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block is %q, want CERTIFICATE", blk.Type)
		}
		b = blk.Bytes
	}
	return x509.ParseCertificate(b)
}

func readCertFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseCertificatePEMOrDER(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func readKeyFile(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var key any
	switch blk.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: key cannot sign", path)
	}
	return s, nil
}
