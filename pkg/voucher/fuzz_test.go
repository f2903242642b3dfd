package voucher

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/landfall-io/landfall/pkg/voucher/vouchertest"
)

// Fuzz targets for every parser of untrusted bytes: both JSON documents and
// the CMS wrapper. Each must return an *Error or succeed, never panic, and
// what parses must re-encode to something that parses to the same thing.

func jsonSeeds(f *testing.F) {
	for _, name := range []string{"vr", "parboiled_vr", "voucher"} {
		f.Add(readFile(f, "rfc8995-appendix-c/"+name+"_00-D0-E5-F2-00-02.json"))
	}
	f.Add([]byte(`{"ietf-voucher:voucher":{"assertion":"logged","created-on":"2021-01-01T00:00:00Z","serial-number":"a","pinned-domain-pubk-sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","domain-cert-revocation-checks":false}}`))
	f.Add([]byte(`{"ietf-voucher-request:voucher":{"nonce":"a","nonce":"b"}}`))
	f.Add([]byte(bisExtensionExample))
	f.Add([]byte(`{"ietf-voucher-request:voucher":{"assertion":"agent-proximity","serial-number":"a","nonce":"n","est-domain":"https://e.example/","manufacturer-proprietary":"-__-","agent-provided-proximity-registrar-cert":"AAAA","agent-signed-data":"AAAA"}}`))
}

func FuzzParseVoucherJSON(f *testing.F) {
	jsonSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVoucherJSON(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		js, _ := v.MarshalJSON()
		v2, err := ParseVoucherJSON(js)
		if err != nil {
			t.Fatalf("re-encoded voucher does not parse: %v\n%s", err, js)
		}
		js2, _ := v2.MarshalJSON()
		if !bytes.Equal(js, js2) {
			t.Fatalf("unstable encoding:\n%s\n%s", js, js2)
		}
	})
}

func FuzzParseVoucherRequestJSON(f *testing.F) {
	jsonSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseVoucherRequestJSON(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		_ = r.ValidatePledgeRequest()
		_ = r.ValidateRegistrarRequest(true)
		js, _ := r.MarshalJSON()
		r2, err := ParseVoucherRequestJSON(js)
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v\n%s", err, js)
		}
		js2, _ := r2.MarshalJSON()
		if !bytes.Equal(js, js2) {
			t.Fatalf("unstable encoding:\n%s\n%s", js, js2)
		}
	})
}

// FuzzVerifyCMS runs two signature verifications per input, so the
// default one-minute minimization of each new input starves it; run it as
//
//	go test -run '^$' -fuzz '^FuzzVerifyCMS$' -fuzztime 60s -fuzzminimizetime 2s ./pkg/voucher
func FuzzVerifyCMS(f *testing.F) {
	for _, name := range []string{"vr", "parboiled_vr", "voucher"} {
		f.Add(readB64(f, "rfc8995-appendix-c/"+name+"_00-D0-E5-F2-00-02.b64"))
	}
	f.Add(readFile(f, "rfc8366bis/voucher_00-D0-E5-F2-00-02.pkcs"))
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x30, 0x80, 0x02, 0x01, 0x01, 0x31, 0x80, 0, 0})
	// The attacker's shape: one SignerInfo without signed attributes.
	masa, masaKey := readCert(f, "rfc8995-appendix-c/masa.crt"), readECKey(f, "rfc8995-appendix-c/masa.key")
	for _, ct := range []asn1.ObjectIdentifier{OIDAnimaJSONVoucher, OIDData} {
		bare, err := vouchertest.SignWithoutSignedAttributes(readFile(f, "rfc8995-appendix-c/voucher_00-D0-E5-F2-00-02.json"), ct, masa, masaKey)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bare)
	}
	roots := poolOf(readCert(f, "rfc8995-appendix-c/vendor.crt"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []VerifyOptions{{At: rfcTime}, {Roots: roots, At: rfcTime}} {
			sc, err := Verify(data, opts)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("untyped error %T: %v", err, err)
				}
				continue
			}
			if sc.Signer == nil || len(sc.Content) == 0 {
				t.Fatal("verified without signer or content")
			}
		}
	})
}
