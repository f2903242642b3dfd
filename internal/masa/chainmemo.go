package masa

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"
)

// chainMemo (one per Service) remembers for a few seconds that a certificate chained,
// through given intermediates, to a given root: a registrar sends the same
// certificate with every voucher-request, and the MASA checks it twice per
// request (as the TLS client and as the CMS signer), two signatures each
// time (issue 14). An entry is keyed by the exact bytes of the
// certificate, every intermediate and the root, holds only successes, and
// answers only at a time inside every one of those certificates' validity,
// so a hit gives the answer a fresh x509.Verify would give (which depends
// on nothing else); anything else is verified afresh.
type chainMemo struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]chainEntry
	hits    int // for tests
}

type chainEntry struct {
	verified            time.Time // when the chain was verified (the request's now)
	notBefore, notAfter time.Time // the intersection of the certificates' validity
}

const (
	// chainMemoTTL bounds how long a verification is reused.
	chainMemoTTL = 10 * time.Second
	// chainMemoMax bounds the memo; a full memo is emptied.
	chainMemoMax = 4096
)

func chainKey(cert *x509.Certificate, intermediates []*x509.Certificate, root *x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, c := range append([]*x509.Certificate{cert, root}, intermediates...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// validity is the intersection of the certificates' validity periods.
func validity(cert *x509.Certificate, intermediates []*x509.Certificate, root *x509.Certificate) (time.Time, time.Time) {
	nb, na := cert.NotBefore, cert.NotAfter
	for _, c := range append([]*x509.Certificate{root}, intermediates...) {
		if c.NotBefore.After(nb) {
			nb = c.NotBefore
		}
		if c.NotAfter.Before(na) {
			na = c.NotAfter
		}
	}
	return nb, na
}

// verify answers from the memo or runs check, remembering a success.
func (m *chainMemo) verify(cert *x509.Certificate, intermediates []*x509.Certificate, root *x509.Certificate, now time.Time, check func() bool) bool {
	k := chainKey(cert, intermediates, root)
	m.mu.Lock()
	e, ok := m.entries[k]
	if ok && !now.Before(e.notBefore) && !now.After(e.notAfter) &&
		!now.Before(e.verified) && now.Sub(e.verified) < chainMemoTTL {
		m.hits++
		m.mu.Unlock()
		return true
	}
	m.mu.Unlock()
	if !check() {
		return false
	}
	nb, na := validity(cert, intermediates, root)
	m.mu.Lock()
	if m.entries == nil || len(m.entries) >= chainMemoMax {
		m.entries = map[[sha256.Size]byte]chainEntry{}
	}
	m.entries[k] = chainEntry{verified: now, notBefore: nb, notAfter: na}
	m.mu.Unlock()
	return true
}
