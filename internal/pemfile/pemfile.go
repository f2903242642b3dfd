// Package pemfile reads certificates from PEM files, as the binaries' flags
// name them (anchors, chains, CA bundles).
package pemfile

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// Certs reads every PEM certificate in the file at path; a file
// without one is an error.
func Certs(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return out, nil
}

// Pool is Certs as a certificate pool.
func Pool(path string) (*x509.CertPool, error) {
	certs, err := Certs(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// Cert is the first certificate of the PEM file at path.
func Cert(path string) (*x509.Certificate, error) {
	certs, err := Certs(path)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}
