package enroll

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"
)

// serveSimpleEnroll answers POST /simpleenroll (RFC 7030 section 4.2.1):
// authenticate the client (its IDevID, RFC 8995 section 5.9.3), decide the
// certificate's names by the NamePolicy, check the CSR against the
// CSRPolicy and those names, ask the Policy, and let the CA issue.
func (s *Server) serveSimpleEnroll(w http.ResponseWriter, r *http.Request) {
	s.serveEnroll(w, r, OpSimpleEnroll)
}

// serveSimpleReenroll answers POST /simplereenroll (RFC 7030 section
// 4.2.2): the client authenticates with the certificate being renewed,
// which must chain to this CA, and the new certificate keeps its names
// (recomputed by the NamePolicy, never taken from the CSR) unless the
// Policy allows the change.
func (s *Server) serveSimpleReenroll(w http.ResponseWriter, r *http.Request) {
	s.serveEnroll(w, r, OpSimpleReenroll)
}

// enrollment is one authenticated, checked and authorized request.
type enrollment struct {
	op    Operation
	label string
	peer  Peer
	csr   *x509.CertificateRequest
	// renewing is the certificate being renewed (simplereenroll).
	renewing *x509.Certificate
	// names are what the certificate will carry.
	names *CertificateNames
}

func (e *enrollment) request() *EnrollRequest {
	return &EnrollRequest{CSR: e.csr, Label: e.label, Peer: e.peer, Renewing: e.renewing, Names: e.names}
}

// admit runs the steps every POST operation shares, in order: label,
// authentication (401), body size (413), decoding (400), the renewal
// checks for simplereenroll (403), the NamePolicy, the CSR policy and the
// names and usages the CSR requests (400/403), and the Policy.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, op Operation) (*enrollment, error) {
	l, err := label(r)
	if err != nil {
		return nil, err
	}
	peer := PeerFromRequest(r)
	if len(peer.Chain) == 0 {
		return nil, errUnauthenticated
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	csr, err := ParseCSR(body)
	if err != nil {
		return nil, err
	}
	e := &enrollment{op: op, label: l, peer: peer, csr: csr}
	authz := &AuthzRequest{Operation: op, Label: l, Peer: peer, CSR: csr}
	if op == OpSimpleReenroll {
		e.renewing = peer.Leaf()
		authz.Renewing = e.renewing
		if err := s.checkRenewable(r.Context(), peer); err != nil {
			return nil, err
		}
	}
	if e.names, err = s.certificateNames(r.Context(), authz); err != nil {
		return nil, err
	}
	authz.Names = e.names
	if err := s.csrPolicy.checkVerified(csr, e.names.Subject.SerialNumber, peer); err != nil {
		return nil, err
	}
	if err := checkRequestedNames(csr, e.names); err != nil {
		return nil, err
	}
	if err := checkRequestedUsages(csr); err != nil {
		return nil, err
	}
	if op == OpSimpleReenroll {
		if err := e.names.Matches(e.renewing); err != nil {
			authz.SubjectChange = true
			if !s.subjectChange {
				return nil, newError(http.StatusForbidden, err, "re-enrollment must keep subject and subjectAltName: %v", err)
			}
		}
	}
	if err := s.policy(r.Context(), authz); err != nil {
		return nil, err
	}
	return e, nil
}

// certificateNames asks the NamePolicy and checks its answer; names that
// fail Validate are a server fault (500), never signed.
func (s *Server) certificateNames(ctx context.Context, authz *AuthzRequest) (*CertificateNames, error) {
	names, err := s.names(ctx, authz)
	if err != nil {
		return nil, err
	}
	if err := names.Validate(); err != nil {
		return nil, fmt.Errorf("enroll: name policy: %w", err)
	}
	return names, nil
}

func (s *Server) serveEnroll(w http.ResponseWriter, r *http.Request, op Operation) {
	e, err := s.admit(w, r, op)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	var issued *Issued
	if op == OpSimpleReenroll {
		issued, err = s.ca.Reenroll(r.Context(), e.request())
	} else {
		issued, err = s.ca.Enroll(r.Context(), e.request())
	}
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	der, err := s.recordedCerts(r.Context(), e, issued)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	s.writeDER(w, r, MediaTypeCertsOnly, der)
}

// responseCerts is the issued certificate, plus its issuers without the
// root when WithChainInEnrollResponse is set.
func (s *Server) responseCerts(iss *Issued) []*x509.Certificate {
	certs := []*x509.Certificate{iss.Certificate}
	if s.includeChain {
		for _, c := range iss.Chain {
			// The chain comes from the CA; a self-issued certificate in it
			// is the root, which clients get from /cacerts.
			if string(c.RawIssuer) != string(c.RawSubject) {
				certs = append(certs, c)
			}
		}
	}
	return certs
}

// recordedCerts records the issuance (record) and encodes the certs-only
// answer for it (responseCerts).
func (s *Server) recordedCerts(ctx context.Context, e *enrollment, iss *Issued) ([]byte, error) {
	if err := s.record(ctx, e, iss); err != nil {
		return nil, err
	}
	return EncodeCertsOnly(s.responseCerts(iss))
}

// record passes the issuance to the hook.
func (s *Server) record(ctx context.Context, e *enrollment, iss *Issued) error {
	if iss == nil || iss.Certificate == nil {
		return newError(http.StatusInternalServerError, nil, "CA returned no certificate")
	}
	s.log.InfoContext(ctx, "est certificate issued", "op", e.op, "serial", iss.Certificate.SerialNumber.String(),
		"subject", iss.Certificate.Subject.String(), "not_after", iss.Certificate.NotAfter.Format(time.RFC3339))
	if s.issued == nil {
		return nil
	}
	rec := &Issuance{
		Operation:    e.op,
		Label:        e.label,
		SerialNumber: iss.Certificate.SerialNumber,
		Subject:      iss.Certificate.Subject,
		NotBefore:    iss.Certificate.NotBefore,
		NotAfter:     iss.Certificate.NotAfter,
		Device:       e.peer.Leaf(),
		Certificate:  iss.Certificate,
		Chain:        iss.Chain,
	}
	if err := s.issued(ctx, rec); err != nil {
		return newError(http.StatusInternalServerError, err, "could not record the issued certificate")
	}
	return nil
}

// checkRenewable verifies that the client's certificate, the one being
// renewed, was issued by this CA and is currently valid (RFC 7030 section
// 4.2.2: the client authenticates with its existing certificate; a
// certificate from elsewhere, an IDevID for instance, cannot be renewed).
func (s *Server) checkRenewable(ctx context.Context, peer Peer) error {
	caCerts, err := s.ca.CACerts(ctx)
	if err != nil {
		return err
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range caCerts {
		if isSelfSigned(c) {
			roots.AddCert(c)
		} else {
			inters.AddCert(c)
		}
	}
	for _, c := range peer.Chain[1:] {
		inters.AddCert(c)
	}
	_, err = peer.Leaf().Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inters,
		CurrentTime:   s.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return newError(http.StatusForbidden, err, "the certificate being renewed was not issued by this CA")
	}
	return nil
}

// isSelfSigned reports whether c is a self-issued, self-signed certificate.
func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignatureFrom(c) == nil
}
