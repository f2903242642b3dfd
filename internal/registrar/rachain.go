package registrar

import (
	"context"
	"crypto/x509"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// voucherRequestSigner is the RA signer of one registrar voucher-request
// (RFC 8995 5.5). Its certificates run from the RA certificate up to the
// domain trust anchor (raChainToRoot), and a COSE request's x5bag adds
// the certificates the pledge identified itself with: the draft's pledge
// signs its COSE request without x5bag or x5chain, so the MASA finds the
// IDevID in the registrar's bag (draft-ietf-anima-constrained-voucher).
// CMS and JWS pledge requests carry the IDevID themselves, and JWS's
// x5c must stay a chain (RFC 7515 4.1.6).
func (rg *Registrar) voucherRequestSigner(ctx context.Context, pr *pledgeRequest) *voucher.Signer {
	s := *rg.raSigner
	s.Chain = rg.raChainToRoot(ctx)
	if pr.format == voucher.FormatCOSE {
		s.Chain = append(append([]*x509.Certificate(nil), s.Chain...), pr.pledge.Chain...)
	}
	return &s
}

// raChainToRoot is the RA certificate's issuers up to and including the
// domain CA's root: rfc8366bis has the registrar include the chain to its
// trust anchor, so that a MASA pinning the farthest certificate of the
// request (RFC 8995 5.5.4 without a known owner, trust on first use) pins
// the domain root rather than an issuing CA the domain may replace. The
// issuers come from the RA certificate file and the CA backend's
// certificates; when the RA certificate does not chain to the domain CA,
// or the CA cannot be reached, the RA certificate file's chain is sent as
// configured. A chain found is kept: the RA certificate and the domain CA
// do not change while the registrar runs.
func (rg *Registrar) raChainToRoot(ctx context.Context) []*x509.Certificate {
	configured := rg.raSigner.Chain
	if rg.ca == nil {
		return configured
	}
	rg.domain.mu.Lock()
	found := rg.domain.raChain
	rg.domain.mu.Unlock()
	if found != nil {
		return found
	}
	roots, inter, err := rg.domain.pools(ctx, rg)
	if err != nil {
		rg.log.WarnContext(ctx, "registrar voucher-request without the domain root: CA certificates unavailable", "err", err)
		return configured
	}
	inter = inter.Clone()
	for _, c := range configured {
		inter.AddCert(c)
	}
	chains, err := rg.raSigner.Cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: rg.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil || len(chains) == 0 {
		return configured
	}
	best := chains[0]
	for _, c := range chains[1:] {
		if len(c) < len(best) {
			best = c
		}
	}
	found = best[1:]
	rg.domain.mu.Lock()
	rg.domain.raChain = found
	rg.domain.mu.Unlock()
	return found
}
