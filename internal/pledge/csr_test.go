package pledge

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/landfall-io/landfall/pkg/enroll"
)

// The CSR carries the channel binding exactly when csrattrs ask for it,
// in the form pkg/enroll's policy checks.
func TestCSRChannelBinding(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	binding := bytes.Repeat([]byte{7}, 32)
	policy := &enroll.CSRPolicy{RequireSerialNumber: true, RequireChannelBinding: true}
	attrs, err := policy.CSRAttrs()
	if err != nil {
		t.Fatal(err)
	}
	der, err := newCSR(key, "SN-1", attrs, binding)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := policy.Check(csr, "SN-1", enroll.Peer{ChannelBinding: binding}); err != nil {
		t.Fatalf("registrar policy refuses the pledge's CSR: %v", err)
	}
	if err := policy.Check(csr, "SN-1", enroll.Peer{ChannelBinding: bytes.Repeat([]byte{8}, 32)}); err == nil {
		t.Fatal("a CSR bound to another session passed")
	}
	plain, err := newCSR(key, "SN-1", nil, binding)
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(enroll.OIDChallengePassword)
	if bytes.Contains(plain, oid) || !bytes.Contains(der, oid) {
		t.Fatal("challengePassword sent unasked, or not sent when asked")
	}
	if _, err := newCSR(key, "SN-1", attrs, nil); err == nil {
		t.Fatal("asked for a binding the session lacks, and went on")
	}
}
