package masa

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"reflect"
	"testing"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestNewAppliesDefaults: New fills every unset option with its production
// default, keeps every set one, and never changes the caller's signer.
func TestNewAppliesDefaults(t *testing.T) {
	ca, _ := issueTestCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "maker"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	signer := &voucher.Signer{Cert: ca}
	svc, err := New(Config{Store: &memStore{}, Signer: signer, IDevIDCA: ca})
	if err != nil {
		t.Fatal(err)
	}
	got := svc.Config()
	if !got.Signer.ContentType.Equal(voucher.OIDAnimaJSONVoucher) || signer.ContentType != nil {
		t.Errorf("content type %v, caller's signer now %v", got.Signer.ContentType, signer.ContentType)
	}
	if got.RetryAfter != DefaultRetryAfter || got.AuditLogLimit != DefaultAuditLogLimit || got.Logger == nil ||
		reflect.ValueOf(got.Clock).Pointer() != reflect.ValueOf(time.Now).Pointer() {
		t.Errorf("defaults: %+v", got)
	}

	clock := func() time.Time { return fuzzNow }
	set := Config{Store: &memStore{}, Signer: &voucher.Signer{Cert: ca, ContentType: voucher.OIDData}, IDevIDCA: ca,
		Clock: clock, RetryAfter: time.Second, AuditLogLimit: 3, RequireRegistrarTLS: true}
	svc, err = New(set)
	if err != nil {
		t.Fatal(err)
	}
	got = svc.Config()
	if !got.Signer.ContentType.Equal(voucher.OIDData) || got.RetryAfter != time.Second || got.AuditLogLimit != 3 ||
		!got.RequireRegistrarTLS || reflect.ValueOf(got.Clock).Pointer() != reflect.ValueOf(clock).Pointer() {
		t.Errorf("set options not kept: %+v", got)
	}
	if _, err := New(Config{Signer: signer, IDevIDCA: ca}); err == nil {
		t.Error("a Config without a store was accepted")
	}
}

// TestConfigFromKeys: the production configuration signs with the keys'
// voucher signer under id-ct-animaJSONVoucher and checks IDevIDs against
// the keys' CA.
func TestConfigFromKeys(t *testing.T) {
	ca, caKey := issueTestCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "maker"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	sc, sk := issueTestCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "masa"}}, ca, caKey)
	st := &memStore{}
	c := ConfigFromKeys(st, &Keys{CACert: ca, CAKey: caKey, SignerCert: sc, SignerKey: sk}, "masa.example.com")
	if c.Store != st || c.Signer.Cert != sc || c.Signer.Key != sk || !c.Signer.ContentType.Equal(voucher.OIDAnimaJSONVoucher) ||
		c.IDevIDCA != ca || c.IDevIDKey != caKey || c.MASAURL != "masa.example.com" {
		t.Errorf("ConfigFromKeys = %+v", c)
	}
}
