package masa

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
)

func testCert(t testing.TB, name string, serial int64, ca bool, nb, na time.Time, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: nb, NotAfter: na, BasicConstraintsValid: true, IsCA: ca,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	if parent == nil {
		return testkit.Issue(t, tmpl, nil, nil)
	}
	return testkit.Issue(t, tmpl, parent, parentKey)
}

// TestChainMemo: a verified chain is reused only for the same bytes, at a
// time inside every certificate's validity and within the TTL; a failure
// is never remembered.
func TestChainMemo(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	root, rootKey := testCert(t, "root", 1, true, now.Add(-time.Hour), now.Add(24*time.Hour), nil, nil)
	inter, interKey := testCert(t, "issuing", 2, true, now.Add(-time.Hour), now.Add(24*time.Hour), root, rootKey)
	// The leaf expires first, a minute from now.
	leaf, _ := testCert(t, "registrar", 3, false, now.Add(-time.Hour), now.Add(time.Minute), inter, interKey)
	other, _ := testCert(t, "other root", 4, true, now.Add(-time.Hour), now.Add(24*time.Hour), nil, nil)

	m := &chainMemo{}
	hits := func() int { return m.hits }

	if !m.chainsTo(leaf, []*x509.Certificate{inter}, root, now) || hits() != 0 {
		t.Fatalf("first verification: hits %d", hits())
	}
	if !m.chainsTo(leaf, []*x509.Certificate{inter}, root, now.Add(time.Second)) || hits() != 1 {
		t.Fatalf("second verification not answered from the memo: hits %d", hits())
	}
	// Another root, no intermediates, or a time past the TTL: verified afresh.
	if m.chainsTo(leaf, []*x509.Certificate{inter}, other, now) {
		t.Fatal("chained to another root")
	}
	if m.chainsTo(leaf, nil, root, now) {
		t.Fatal("chained without its intermediate")
	}
	if !m.chainsTo(leaf, []*x509.Certificate{inter}, root, now.Add(chainMemoTTL+time.Second)) || hits() != 1 {
		t.Fatalf("after the TTL: hits %d", hits())
	}
	// Past the leaf's expiry the memo does not answer, and the chain fails.
	if m.chainsTo(leaf, []*x509.Certificate{inter}, root, now.Add(2*time.Minute)) {
		t.Fatal("an expired leaf chained")
	}
	// Before the verification time (a clock set back) it does not answer either.
	before := hits()
	if !m.chainsTo(leaf, []*x509.Certificate{inter}, root, now.Add(-time.Second)) || hits() != before {
		t.Fatalf("a time before the verification was answered from the memo")
	}
	// Failures are not remembered: the failing chain is checked again.
	if m.chainsTo(leaf, []*x509.Certificate{inter}, other, now) || hits() != before {
		t.Fatal("a failure was answered from the memo")
	}
}

// BenchmarkChainsTo: the registrar's chain (leaf, issuing CA, root), as
// the MASA checks it twice per voucher-request, verified and remembered.
func BenchmarkChainsTo(b *testing.B) {
	now := time.Now()
	root, rootKey := testCert(b, "root", 1, true, now.Add(-time.Hour), now.Add(24*time.Hour), nil, nil)
	inter, interKey := testCert(b, "issuing", 2, true, now.Add(-time.Hour), now.Add(24*time.Hour), root, rootKey)
	leaf, _ := testCert(b, "registrar", 3, false, now.Add(-time.Hour), now.Add(24*time.Hour), inter, interKey)
	chain := []*x509.Certificate{inter}
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			m := &chainMemo{}
			if !m.chainsTo(leaf, chain, root, now) {
				b.Fatal("no chain")
			}
		}
	})
	b.Run("remembered", func(b *testing.B) {
		m := &chainMemo{}
		m.chainsTo(leaf, chain, root, now)
		for b.Loop() {
			if !m.chainsTo(leaf, chain, root, now) {
				b.Fatal("no chain")
			}
		}
	})
}
