package pledge

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
)

// WriteFiles stores what an onboarded device keeps, as PEM in dir:
// ldevid.crt (the domain certificate, then its issuers), ldevid.key and
// ca.crt (the domain trust anchors from /cacerts).
func (r *Result) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(r.Key)
	if err != nil {
		return err
	}
	var certs, cas []byte
	for _, c := range append([]*x509.Certificate{r.Certificate}, r.Chain...) {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	for _, c := range r.CACerts {
		cas = append(cas, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	files := map[string][]byte{
		"ldevid.crt": certs,
		"ca.crt":     cas,
		"ldevid.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
