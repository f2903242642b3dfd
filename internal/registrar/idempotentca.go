package registrar

import (
	"bytes"
	"context"
	"crypto/x509"
	"time"

	"github.com/landfall-io/landfall/pkg/enroll"
)

// idempotentCA makes a repeated simpleenroll answerable without a second
// certificate: a pledge whose answer was lost (a replica died, a
// connection broke) asks again with the same key, and gets the
// certificate already issued for that key, still valid, instead of a
// second one. Re-enrollment and server-side key generation always issue.
type idempotentCA struct {
	enroll.CA
	rg *Registrar
}

// Enroll implements enroll.CA.
func (c *idempotentCA) Enroll(ctx context.Context, req *enroll.EnrollRequest) (*enroll.Issued, error) {
	if prior, err := c.issuedFor(ctx, req); err != nil || prior != nil {
		return prior, err
	}
	return c.CA.Enroll(ctx, req)
}

// issuedFor returns the certificate this registrar already issued to the
// pledge for the CSR's public key, with its chain, or nil.
func (c *idempotentCA) issuedFor(ctx context.Context, req *enroll.EnrollRequest) (*enroll.Issued, error) {
	p, err := c.rg.pledgeForEnrollment(ctx, &enroll.AuthzRequest{Peer: req.Peer})
	if err != nil {
		return nil, nil // the policy has decided already; let the CA answer
	}
	certs, err := c.rg.store.ListCertificates(ctx, p.ID)
	if err != nil {
		return nil, unavailable(err)
	}
	want, err := x509.MarshalPKIXPublicKey(req.CSR.PublicKey)
	if err != nil {
		return nil, nil
	}
	now := c.rg.now()
	for i := len(certs) - 1; i >= 0; i-- {
		prior, err := x509.ParseCertificate(certs[i].DER)
		if err != nil || !bytes.Equal(prior.RawSubjectPublicKeyInfo, want) || now.After(prior.NotAfter.Add(-time.Hour)) {
			continue
		}
		if prior.Subject.String() != req.CSR.Subject.String() {
			continue
		}
		chain, err := c.CA.CACerts(ctx)
		if err != nil {
			return nil, err
		}
		return &enroll.Issued{Certificate: prior, Chain: chain}, nil
	}
	return nil, nil
}
