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
