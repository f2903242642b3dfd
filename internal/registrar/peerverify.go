package registrar

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"sync"
)

// verifyPeer is the ATLS server's check once an inner handshake is
// complete and before it keeps anything for the session (a records-mode
// session, a key-export context): the client must present an IDevID of a
// trusted manufacturer (a pledge onboarding, RFC 8995 5.5) or a domain
// certificate of this registrar's CA (a pledge re-enrolling, RFC 7030
// 4.2.2). Anyone else, a self-signed certificate for instance, costs a
// handshake and nothing stored.
func (rg *Registrar) verifyPeer(ctx context.Context, cs tls.ConnectionState) error {
	chain := cs.PeerCertificates
	if len(chain) == 0 {
		return &httpError{http.StatusUnauthorized, "no client certificate: the pledge must present its IDevID"}
	}
	_, err := rg.manufacturerOf(ctx, chain)
	var he *httpError
	if err == nil || !errors.As(err, &he) {
		return err // a trusted manufacturer's IDevID, or the store failed (503)
	}
	ok, derr := rg.domain.verifies(ctx, rg, chain)
	if derr != nil {
		return derr
	}
	if !ok {
		return &httpError{http.StatusForbidden, "client certificate chains to no trusted manufacturer and is no domain certificate"}
	}
	return nil
}

// domainTrust is the domain CA as the CA backend reports it, loaded on
// first use (a remote CA may be unreachable at start) and kept.
type domainTrust struct {
	mu    sync.Mutex
	roots *x509.CertPool
	inter *x509.CertPool
	// raChain is the RA certificate's chain up to the root, once
	// raChainToRoot has found it (rachain.go).
	raChain []*x509.Certificate
}

// verifies reports whether chain is a domain certificate: its leaf chains
// to the CA backend's root and is valid for client authentication.
func (d *domainTrust) verifies(ctx context.Context, rg *Registrar, chain []*x509.Certificate) (bool, error) {
	roots, inter, err := d.pools(ctx, rg)
	if err != nil {
		return false, err
	}
	_, err = chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: rg.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return err == nil, nil
}

// pools returns the domain CA's roots (its self-signed certificates) and
// intermediates, loading them from the CA backend on first use.
func (d *domainTrust) pools(ctx context.Context, rg *Registrar) (roots, inter *x509.CertPool, err error) {
	d.mu.Lock()
	roots, inter = d.roots, d.inter
	d.mu.Unlock()
	if roots != nil {
		return roots, inter, nil
	}
	certs, err := rg.ca.CACerts(ctx)
	if err != nil {
		return nil, nil, &pendingError{http.StatusServiceUnavailable, "domain CA unavailable", storeRetryAfter, err}
	}
	roots, inter = x509.NewCertPool(), x509.NewCertPool()
	for _, c := range certs {
		if string(c.RawIssuer) == string(c.RawSubject) {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	d.mu.Lock()
	d.roots, d.inter = roots, inter
	d.mu.Unlock()
	return roots, inter, nil
}
