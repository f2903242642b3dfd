package voucher

import (
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"testing"
)

// ParseAs reads each format's signed bytes as its own parser does, refuses
// bytes of another format, and names an unknown format as unsupported.
func TestParseAs(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	_, rr := p.pledgeRequest(t, "bm9uY2U")
	for _, f := range Formats {
		signed, err := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).SignVoucherRequestAs(f, rr)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := ParseAs(f, signed)
		if err != nil || sc.Format != f {
			t.Fatalf("%s: %v", f, err)
		}
		if got, err := sc.ParseVoucherRequest(); err != nil || got.SerialNumber != rr.SerialNumber {
			t.Fatalf("%s voucher-request: %v", f, err)
		}
		other := Formats[(int(f)+1)%len(Formats)]
		if _, err := ParseAs(other, signed); err == nil {
			t.Fatalf("%s bytes parsed as %s", f, other)
		}
	}
	if _, err := ParseAs(Format(9), []byte{1}); !errors.Is(err, ErrUnsupportedContent) {
		t.Fatalf("unknown format: %v", err)
	}
}
