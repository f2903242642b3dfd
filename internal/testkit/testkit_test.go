package testkit_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
	"github.com/landfall-io/landfall/migrations"
	"github.com/landfall-io/landfall/pkg/voucher"
)

func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }

func TestClock(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := testkit.NewClock(start)
	c.Advance(90 * time.Second)
	if got := c.Now(); !got.Equal(start.Add(90 * time.Second)) {
		t.Fatalf("after Advance: %v", got)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("after Set: %v", got)
	}
}

// TestPKI: an IDevID under an intermediate verifies to the root, carries
// its serialNumber and MASA URL as pkg/voucher reads them, and serials are
// unique.
func TestPKI(t *testing.T) {
	root, rootKey := testkit.CA(t, "root")
	sub, subKey := testkit.Intermediate(t, "sub", root, rootKey)
	leaf, _ := testkit.IDevID(t, pkix.Name{SerialNumber: "KIT-1"}, "masa.example.com", sub, subKey)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: testkit.CertPool(root), Intermediates: testkit.CertPool(sub),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
	if sn, err := voucher.SerialFromX520(leaf); err != nil || sn != "KIT-1" {
		t.Fatalf("serial %q, %v", sn, err)
	}
	if u, err := voucher.MASAURL(leaf); err != nil || u != "masa.example.com" {
		t.Fatalf("MASA URL %q, %v", u, err)
	}
	if root.SerialNumber.Cmp(sub.SerialNumber) == 0 || sub.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Fatal("serial numbers repeat")
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	self, err := x509.ParseCertificate(testkit.SelfSignedCA(t, "anchor", now))
	if err != nil || !self.IsCA || self.CheckSignatureFrom(self) != nil || !self.NotBefore.Equal(now.Add(-time.Hour)) {
		t.Fatalf("self-signed CA: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(testkit.CSR(t, testkit.Key(t), pkix.Name{SerialNumber: "KIT-2"}))
	if err != nil || csr.CheckSignature() != nil || csr.Subject.SerialNumber != "KIT-2" {
		t.Fatalf("CSR: %v", err)
	}
}

// TestSnapshot: a snapshot changes when a row changes, and Count counts.
func TestSnapshot(t *testing.T) {
	pool := testkit.Pool(t, migrations.MASASchema)
	before := testkit.Snapshot(t, pool, "owners", "devices")
	if again := testkit.Snapshot(t, pool, "owners", "devices"); again != before {
		t.Fatalf("snapshot of an unchanged database differs: %s, %s", before, again)
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO owners (name, ca_cert, ca_sha256, domain_id, created_at) VALUES ('o', 'c', 's', 'd', now())`); err != nil {
		t.Fatal(err)
	}
	if after := testkit.Snapshot(t, pool, "owners", "devices"); after == before {
		t.Fatal("snapshot missed an inserted row")
	}
	if n := testkit.Count(t, pool, "owners"); n != 1 {
		t.Fatalf("Count: %d", n)
	}
}
