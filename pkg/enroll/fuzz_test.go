package enroll

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net/http"
	"testing"
)

// Fuzz targets for every parser of untrusted EST bytes. Seeds are valid
// messages in each accepted encoding plus a few near-misses.

func fuzzSeeds(f *testing.F) (csr []byte) {
	f.Helper()
	key := mustKey(f)
	csr = makeCSR(f, key, csrOpts{subject: pkix.Name{SerialNumber: "FZ"}, dns: []string{"a.example"}, challenge: "Zm9v"})
	f.Add(csr)
	f.Add(encodeBase64Lines(csr))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n" + string(encodeBase64Lines(csr)) + "-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte("MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw=="))
	f.Add([]byte(""))
	f.Add([]byte("====\r\n"))
	return csr
}

func FuzzDecodeBody(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := DecodeBody(in)
		if err != nil {
			return
		}
		if !isDER(out) {
			t.Fatalf("DecodeBody returned non-DER %x", out)
		}
		// Whatever decodes must decode the same once re-encoded.
		again, err := DecodeBody(encodeBase64Lines(out))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("base64 round trip changed %x", out)
		}
	})
}

// FuzzCSRCheck runs the request parser and the CSR policy; every failure
// must be an *Error with a 4xx status, never a panic or a 5xx.
func FuzzCSRCheck(f *testing.F) {
	fuzzSeeds(f)
	pol := &CSRPolicy{RequireSerialNumber: true, RequireChannelBinding: true, AllowedExtensions: []asn1.ObjectIdentifier{{1, 2, 3}}}
	f.Fuzz(func(t *testing.T, in []byte) {
		csr, err := ParseCSR(in)
		if err == nil {
			err = pol.Check(csr, "FZ", Peer{ChannelBinding: []byte("foo")})
			_, _, _ = csrChallengePassword(csr)
		}
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Status < 400 || e.Status >= 500 {
			t.Fatalf("error %v is not a 4xx *Error", err)
		}
	})
}

// FuzzSimpleEnrollHandler posts fuzzed bodies through the whole handler
// with the embedded CA: the answer is 200 or a 4xx, never a 5xx.
func FuzzSimpleEnrollHandler(f *testing.F) {
	fuzzSeeds(f)
	s := newTestServer(f, WithMaxBodySize(4096))
	chain, _ := newTestPKI(f).idevid(f, "FZ")
	peer := &Peer{Chain: chain}
	f.Fuzz(func(t *testing.T, in []byte) {
		w := do(t, s, "POST", est+"/simpleenroll", in, peer)
		if w.Code != http.StatusOK && (w.Code < 400 || w.Code >= 500) {
			t.Fatalf("status %d for %x: %s", w.Code, in, w.Body)
		}
	})
}

func FuzzParseCSRAttrs(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		attrs, err := ParseCSRAttrs(in)
		if err != nil || len(attrs) == 0 {
			return
		}
		der, err := MarshalCSRAttrs(attrs)
		if err != nil {
			t.Fatalf("cannot re-marshal parsed attributes: %v", err)
		}
		again, err := ParseCSRAttrs(der)
		if err != nil || len(again) != len(attrs) {
			t.Fatalf("re-parse: %d vs %d attributes, %v", len(again), len(attrs), err)
		}
	})
}

func FuzzParseCertsOnly(f *testing.F) {
	fuzzSeeds(f)
	p := newTestPKI(f)
	der, err := EncodeCertsOnly(p.ca.caCerts)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add(encodeBase64Lines(der))
	f.Fuzz(func(t *testing.T, in []byte) {
		certs, err := ParseCertsOnly(in)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificates")
		}
	})
}
