package enroll

import (
	"context"
	"crypto"
	"crypto/x509"
)

// CA is the certificate authority behind the EST server, in the shape of
// globalsign/est's CA interface. Methods return *Error to choose the HTTP
// answer (a 202 with Retry-After for "pending", a 403 for a refusal); any
// other error becomes a 500.
type CA interface {
	// CACerts returns the current CA certificates: the issuing CA chain
	// followed by the root (RFC 7030 section 4.1.3). The EST server also
	// uses them to check that a certificate being renewed is one of ours.
	CACerts(ctx context.Context) ([]*x509.Certificate, error)
	// Enroll issues a certificate for a CSR the server has authenticated,
	// authorized and checked (RFC 7030 section 4.2.1), with exactly
	// req.Names as subject and subjectAltNames: never the CSR's.
	Enroll(ctx context.Context, req *EnrollRequest) (*Issued, error)
	// Reenroll issues a replacement for req.Renewing (RFC 7030 section
	// 4.2.2) with req.Names. The server has checked that req.Renewing
	// chains to CACerts and that req.Names are its names.
	Reenroll(ctx context.Context, req *EnrollRequest) (*Issued, error)
	// ServerKeyGen generates a key pair of the CSR's key type and issues a
	// certificate for it with req.Names (RFC 7030 section 4.4); the CSR's
	// own key is ignored.
	ServerKeyGen(ctx context.Context, req *EnrollRequest) (*Issued, crypto.Signer, error)
}

// EnrollRequest is what the server hands a CA.
type EnrollRequest struct {
	CSR *x509.CertificateRequest
	// Label is the optional additional path segment (RFC 7030 3.2.2), "" if
	// none; a CA may use it to select a profile.
	Label string
	// Peer is the authenticated client.
	Peer Peer
	// Renewing is the certificate being renewed (Reenroll only).
	Renewing *x509.Certificate
	// Names are the subject and subjectAltNames to issue, decided by the
	// server's NamePolicy; the CSR has been checked to ask for no others.
	// A CA refuses a request without them.
	Names *CertificateNames
}

// Issued is a CA's answer: the new certificate and its full chain.
type Issued struct {
	Certificate *x509.Certificate
	// Chain is the issuers of Certificate, nearest first, ending with the
	// root when the CA knows it.
	Chain []*x509.Certificate
}
