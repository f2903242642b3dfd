package voucher

import (
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

// Fuzz targets for the JWS and COSE parsers and the CBOR voucher codec:
// each must return an *Error or succeed, never panic; what verifies must
// hold a payload that parses in its format.

func typed(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if err != nil && !errors.As(err, &e) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

func FuzzVerifyJWS(f *testing.F) {
	for _, n := range []string{"pvr", "rvr", "voucher"} {
		f.Add(readFile(f, "jws-voucher/"+n+".json"))
	}
	p := newPKI(f, elliptic.P256())
	b, _ := (&Signer{Cert: p.masa, Key: p.masaKey}).SignJWS([]byte(`{"ietf-voucher:voucher":{}}`))
	f.Add(b)
	f.Add([]byte(`{"payload":"e30","protected":"eyJhbGciOiJFUzI1NiJ9","signature":""}`))
	roots := poolOf(p.mfgCA)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseJWS(data)
		typed(t, err)
		sc, err := VerifyJWS(data, VerifyOptions{Roots: roots, Intermediates: []*x509.Certificate{p.masa}, At: p.now})
		typed(t, err)
		if err == nil {
			_, err = sc.ParseVoucher()
			typed(t, err)
		}
	})
}

func FuzzVerifyCOSE(f *testing.F) {
	for _, n := range []string{"pvr", "rvr", "voucher"} {
		f.Add(readHex(f, "constrained-voucher/"+n+".hex"))
	}
	p := newPKI(f, elliptic.P256())
	b, _ := (&Signer{Cert: p.masa, Key: p.masaKey}).SignCOSE([]byte{0xa0})
	f.Add(b)
	f.Add([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x41, 0xa0, 0x40})
	masaCA := cvCert(f, "masa_ca")
	roots := poolOf(masaCA, p.mfgCA)
	at := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseCOSE(data)
		typed(t, err)
		if _, err := StripCOSECerts(data); err != nil {
			typed(t, err)
		}
		sc, err := VerifyCOSE(data, VerifyOptions{Roots: roots, Intermediates: []*x509.Certificate{masaCA, p.masa}, At: at})
		typed(t, err)
		if err == nil {
			_, err = sc.ParseVoucher()
			typed(t, err)
		}
	})
}

func FuzzParseVoucherCBOR(f *testing.F) {
	for _, n := range []string{"pvr", "rvr", "voucher"} {
		f.Add(readHex(f, "constrained-voucher/"+n+"-nonsigned.hex"))
	}
	f.Add([]byte{0xa1, 0x19, 0x09, 0x93, 0xa1, 0x01, 0x01})                                                          // {2451: {1: 1}}
	f.Add([]byte{0xa1, 0x19, 0x09, 0x93, 0xa2, 0x01, 0x01, 0x69, 'a', 's', 's', 'e', 'r', 't', 'i', 'o', 'n', 0x01}) // by SID and by name
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVoucherCBOR(data)
		typed(t, err)
		if err == nil {
			cb, err := v.MarshalCBOR()
			if err != nil {
				t.Fatalf("parsed voucher does not re-encode: %v", err)
			}
			if _, err := ParseVoucherCBOR(cb); err != nil {
				t.Fatalf("re-encoded voucher does not parse: %v", err)
			}
		}
		r, err := ParseVoucherRequestCBOR(data)
		typed(t, err)
		if err == nil {
			if _, err := r.MarshalCBOR(); err != nil {
				t.Fatalf("parsed request does not re-encode: %v", err)
			}
		}
	})
}
