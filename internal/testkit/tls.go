package testkit

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
)

// TLSCert is cert and key (and the chain after cert) as a tls.Certificate.
func TLSCert(cert *x509.Certificate, key crypto.Signer, chain ...*x509.Certificate) tls.Certificate {
	tc := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}

// CertPool is a pool of certs.
func CertPool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
