package registrar

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// recordingCA is the registrar's side of issuance (RFC 8995 5.9.3) around
// the CA backend. It resolves the pledge before the CA signs, from the
// whole presented chain, so that nothing about who the certificate is for
// can fail once it exists; it records every certificate before returning
// it, so that a certificate that cannot be recorded is never delivered;
// and it answers a repeated simpleenroll with the certificate already
// issued for the same key: a pledge whose answer was lost (a replica died,
// a connection broke) asks again and gets that certificate, still valid,
// instead of a second one. Re-enrollment and server-side key generation
// always issue.
type recordingCA struct {
	enroll.CA
	rg *Registrar
}

// Enroll implements enroll.CA (RFC 7030 4.2.1).
func (c *recordingCA) Enroll(ctx context.Context, req *enroll.EnrollRequest) (*enroll.Issued, error) {
	en, err := c.rg.enrollee(ctx, req.Peer.Chain)
	if err != nil {
		return nil, err
	}
	if prior, err := c.issuedFor(ctx, en, req); err != nil || prior != nil {
		if err == nil && en.record.State != store.StateEnrolled {
			// The pledge started over after its certificate was recorded
			// (its answer was lost, then a new voucher exchange moved the
			// state back): it is enrolled again with that certificate.
			if err := c.rg.state.SetState(ctx, en.record.ID, store.StateEnrolled); err != nil {
				return nil, unavailable(err)
			}
		}
		return prior, err
	}
	issued, err := c.CA.Enroll(ctx, req)
	if err != nil {
		return nil, err
	}
	return issued, c.record(ctx, en.record.ID, enroll.OpSimpleEnroll, issued.Certificate)
}

// Reenroll implements enroll.CA (RFC 7030 4.2.2): the pledge is the one
// the renewed certificate was issued to.
func (c *recordingCA) Reenroll(ctx context.Context, req *enroll.EnrollRequest) (*enroll.Issued, error) {
	pledgeID, err := c.rg.pledgeOfCertificate(ctx, req.Renewing)
	if err != nil {
		return nil, err
	}
	issued, err := c.CA.Reenroll(ctx, req)
	if err != nil {
		return nil, err
	}
	return issued, c.record(ctx, pledgeID, enroll.OpSimpleReenroll, issued.Certificate)
}

// ServerKeyGen implements enroll.CA (RFC 7030 4.4).
func (c *recordingCA) ServerKeyGen(ctx context.Context, req *enroll.EnrollRequest) (*enroll.Issued, crypto.Signer, error) {
	en, err := c.rg.enrollee(ctx, req.Peer.Chain)
	if err != nil {
		return nil, nil, err
	}
	issued, key, err := c.CA.ServerKeyGen(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if err := c.record(ctx, en.record.ID, enroll.OpServerKeyGen, issued.Certificate); err != nil {
		return nil, nil, err
	}
	return issued, key, nil
}

// record stores an issued certificate and moves the pledge on, in one
// transaction (a crash between the two would leave a certificate on record
// for a pledge that never counts as enrolled). When it fails the certificate is withheld: the pledge is told to retry (503), and
// the certificate, which only the pledge's key can use and nobody received,
// is logged for the operator.
func (c *recordingCA) record(ctx context.Context, pledgeID int64, op enroll.Operation, cert *x509.Certificate) error {
	err := c.rg.state.RecordEnrollment(ctx, store.Certificate{
		Serial:    fmt.Sprintf("%x", cert.SerialNumber),
		PledgeID:  pledgeID,
		Operation: string(op),
		Subject:   cert.Subject.String(),
		NotBefore: cert.NotBefore,
		NotAfter:  cert.NotAfter,
		DER:       cert.Raw,
	})
	if err != nil {
		c.rg.log.ErrorContext(ctx, "certificate issued but not recorded: withheld from the pledge",
			"pledge", pledgeID, "serial", fmt.Sprintf("%x", cert.SerialNumber), "err", err)
		return unavailable(err)
	}
	c.rg.metrics.issued.WithLabelValues(string(op)).Inc()
	return nil
}

// issuedFor returns the certificate this registrar already issued to the
// pledge for the CSR's public key, still valid for an hour and naming what
// the name policy gives the pledge today, with its chain, or nil.
func (c *recordingCA) issuedFor(ctx context.Context, en *enrollee, req *enroll.EnrollRequest) (*enroll.Issued, error) {
	if en.certificates == 0 {
		return nil, nil // the gate's read: none issued yet, nothing to look through
	}
	csr := req.CSR
	certs, err := c.rg.state.ListCertificates(ctx, en.record.ID)
	if err != nil {
		return nil, unavailable(err)
	}
	want, err := x509.MarshalPKIXPublicKey(csr.PublicKey)
	if err != nil {
		return nil, nil
	}
	now := c.rg.now()
	for i := len(certs) - 1; i >= 0; i-- {
		prior, err := x509.ParseCertificate(certs[i].DER)
		if err != nil || string(prior.RawSubjectPublicKeyInfo) != string(want) || now.After(prior.NotAfter.Add(-time.Hour)) {
			continue
		}
		if req.Names == nil || req.Names.Matches(prior) != nil {
			continue // issued under another name policy: issue afresh
		}
		chain, err := c.CA.CACerts(ctx)
		if err != nil {
			return nil, err
		}
		return &enroll.Issued{Certificate: prior, Chain: chain}, nil
	}
	return nil, nil
}
