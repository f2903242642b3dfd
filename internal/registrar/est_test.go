package registrar

import (
	"context"
	"crypto/x509"
	"math/big"
	"testing"
)

// countingRecords answers PledgeOfCertificate and counts the lookups.
type countingRecords struct {
	fakeRecords
	lookups int
}

func (c *countingRecords) PledgeOfCertificate(ctx context.Context, serial string, der []byte) (int64, error) {
	c.lookups++
	return 42, nil
}

// One EST request (estPeer's lookups in its context) looks the renewed
// certificate up once however often the gate, the name policy and the CA
// ask; another certificate, or another request, looks again.
func TestEnrollLookupsOncePerRequest(t *testing.T) {
	rec := &countingRecords{}
	rg := testRegistrar(&fakeRecords{}, nil, ApprovalAuto)
	rg.state = rec
	a := &x509.Certificate{SerialNumber: big.NewInt(1), Raw: []byte("certificate a")}
	b := &x509.Certificate{SerialNumber: big.NewInt(2), Raw: []byte("certificate b")}
	req := context.WithValue(context.Background(), enrollLookupsKey{}, &enrollLookups{})
	for range 3 {
		if id, err := rg.pledgeOfCertificate(req, a); err != nil || id != 42 {
			t.Fatalf("pledgeOfCertificate = %d, %v", id, err)
		}
	}
	if rec.lookups != 1 {
		t.Fatalf("%d lookups within one request, want 1", rec.lookups)
	}
	rg.pledgeOfCertificate(req, b)
	rg.pledgeOfCertificate(context.Background(), a) // no request lookups: always asks
	if rec.lookups != 3 {
		t.Fatalf("%d lookups, want 3", rec.lookups)
	}
}
