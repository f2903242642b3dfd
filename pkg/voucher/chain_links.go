package voucher

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
)

// A signer's chain is checked link by link before it is first carried:
// each certificate must be signed by the next (the issuer first). The
// answer for the same certificates never changes, so a chain that passed
// is remembered, by the SHA-256 of its certificates, for the life of the
// process: signing the thousandth voucher verifies no signature. Failures
// are not remembered. At most maxCheckedChains are kept; beyond that the
// memory starts again (a process signs with a handful of chains).
var checkedChains struct {
	sync.Mutex
	m map[[sha256.Size]byte]struct{}
}

const maxCheckedChains = 64

// checkChainLinks reports whether cert was signed by chain[0], chain[0]
// by chain[1], and so on; an empty chain passes.
func checkChainLinks(cert *x509.Certificate, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return nil
	}
	h := sha256.New()
	h.Write(cert.Raw)
	for _, c := range chain {
		sum := sha256.Sum256(c.Raw)
		h.Write(sum[:])
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	checkedChains.Lock()
	_, ok := checkedChains.m[key]
	checkedChains.Unlock()
	if ok {
		return nil
	}
	child := cert
	for _, parent := range chain {
		if err := child.CheckSignatureFrom(parent); err != nil {
			return fmt.Errorf("the chain does not link: %q is not signed by %q: %w", child.Subject, parent.Subject, err)
		}
		child = parent
	}
	checkedChains.Lock()
	if checkedChains.m == nil || len(checkedChains.m) >= maxCheckedChains {
		checkedChains.m = make(map[[sha256.Size]byte]struct{})
	}
	checkedChains.m[key] = struct{}{}
	checkedChains.Unlock()
	return nil
}

// A registrar's voucher-request carries the same chain each time, and the
// MASA follows it from the signer to its top (carriedChain) to find what
// to pin. Each link's answer depends only on the two certificates, so a
// link that verified is remembered by the SHA-256 of both, as checked
// chains are: the MASA's thousandth request from a registrar verifies the
// request's signature, not the registrar's chain again. Failures are not
// remembered; at most maxVerifiedLinks are kept.
var verifiedLinks struct {
	sync.Mutex
	m map[[2 * sha256.Size]byte]struct{}
}

const maxVerifiedLinks = 4096

// signedBy reports whether parent signed child (x509's CheckSignatureFrom:
// the signature, and parent's right to sign certificates). The child is
// remembered by what that check reads of it (the signed part, the
// algorithm and the signature), the parent by its whole encoding.
func signedBy(child, parent *x509.Certificate) bool {
	var key [2 * sha256.Size]byte
	h := sha256.New()
	h.Write(child.RawTBSCertificate)
	h.Write([]byte{byte(child.SignatureAlgorithm)})
	h.Write(child.Signature)
	h.Sum(key[:0])
	p := sha256.Sum256(parent.Raw)
	copy(key[sha256.Size:], p[:])
	verifiedLinks.Lock()
	_, ok := verifiedLinks.m[key]
	verifiedLinks.Unlock()
	if ok {
		return true
	}
	if child.CheckSignatureFrom(parent) != nil {
		return false
	}
	verifiedLinks.Lock()
	if verifiedLinks.m == nil || len(verifiedLinks.m) >= maxVerifiedLinks {
		verifiedLinks.m = make(map[[2 * sha256.Size]byte]struct{})
	}
	verifiedLinks.m[key] = struct{}{}
	verifiedLinks.Unlock()
	return true
}
