package enroll

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

func TestDecodeBody(t *testing.T) {
	der := []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}
	b64 := base64.StdEncoding.EncodeToString(der)
	tests := []struct {
		name string
		in   []byte
		want []byte
		err  string
	}{
		{"DER", der, der, ""},
		{"base64", []byte(b64), der, ""},
		{"base64 unpadded", []byte(strings.TrimRight(b64, "=")), der, ""},
		{"base64 CRLF lines", []byte(b64[:4] + "\r\n" + b64[4:] + "\r\n"), der, ""},
		{"base64 spaces and tabs", []byte(" " + b64[:3] + "\t" + b64[3:] + " "), der, ""},
		{"PEM", pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: der}), der, ""},
		{"empty", nil, nil, "empty"},
		{"white space only", []byte(" \r\n"), nil, "empty"},
		{"bad base64", []byte("ab$d"), nil, "bad base64"},
		{"base64 of non-DER", []byte(base64.StdEncoding.EncodeToString([]byte("hello"))), nil, "not a single DER"},
		{"DER with trailing bytes", append(bytes.Clone(der), 0), nil, "bad base64"},
		{"truncated DER", der[:5], nil, "bad base64"},
		{"base64url alphabet", []byte(base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff})), nil, "bad base64"},
		{"broken PEM", []byte("-----BEGIN X-----\nAAAA"), nil, "malformed PEM"},
		{"non-SEQUENCE DER", []byte{0x02, 0x01, 0x01}, nil, "bad base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeBody(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %x, %v", got, err)
			}
		})
	}
}

func TestEncodeBase64Lines(t *testing.T) {
	der := bytes.Repeat([]byte{0x30}, 200)
	out := encodeBase64Lines(der)
	for _, line := range strings.Split(strings.TrimRight(string(out), "\r\n"), "\r\n") {
		if len(line) > 64 {
			t.Fatalf("line of %d characters", len(line))
		}
	}
	back, err := decodeBase64Lenient(out)
	if err != nil || !bytes.Equal(back, der) {
		t.Fatal("round trip failed")
	}
}

func TestCertsOnlyRoundTrip(t *testing.T) {
	p := newTestPKI(t)
	der, err := EncodeCertsOnly(nil)
	if err == nil {
		t.Fatal("encoded an empty certs-only")
	}
	der, err = EncodeCertsOnly(p.ca.caCerts)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{der, encodeBase64Lines(der)} {
		certs, err := ParseCertsOnly(body)
		if err != nil || len(certs) != 2 || !certs[0].Equal(p.domainIssuer) {
			t.Fatalf("%d certs, %v", len(certs), err)
		}
	}
	if _, err := ParseCertsOnly([]byte{0x30, 0x00}); err == nil {
		t.Fatal("parsed an empty SEQUENCE as certs-only")
	}
}

func TestCSRAttrsRoundTrip(t *testing.T) {
	curve, _ := rawOf(OIDCurveP256)
	attrs := []CSRAttr{
		{OID: OIDChallengePassword},
		{OID: OIDECPublicKey, Values: []asn1.RawValue{curve}},
		{OID: OIDSerialNumber},
	}
	der, err := MarshalCSRAttrs(attrs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCSRAttrs(encodeBase64Lines(der))
	if err != nil || len(got) != 3 {
		t.Fatalf("%v, %v", got, err)
	}
	for i := range attrs {
		if !got[i].OID.Equal(attrs[i].OID) || len(got[i].Values) != len(attrs[i].Values) {
			t.Errorf("attr %d: %v", i, got[i])
		}
	}
	if !bytes.Equal(got[1].Values[0].FullBytes, curve.FullBytes) {
		t.Error("curve value changed")
	}
	if a, err := ParseCSRAttrs(nil); err != nil || a != nil {
		t.Error("empty body should parse as no attributes")
	}
	// RFC 7030 section 4.5.2 example, in base64 as printed there.
	rfc := "MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw=="
	got, err = ParseCSRAttrs([]byte(rfc))
	if err != nil {
		t.Fatalf("RFC 7030 example: %v", err)
	}
	want := []asn1.ObjectIdentifier{OIDChallengePassword, OIDECPublicKey, OIDExtensionRequest, OIDECDSAWithSHA384}
	if len(got) != len(want) {
		t.Fatalf("RFC example: %d attributes", len(got))
	}
	for i := range want {
		if !got[i].OID.Equal(want[i]) {
			t.Errorf("RFC example attr %d = %v, want %v", i, got[i].OID, want[i])
		}
	}
	for _, bad := range [][]byte{{0x30, 0x03, 0x02, 0x01, 0x01}, {0x30, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x05, 0x31, 0x00, 0x05, 0x00, 0x05, 0x00}} {
		if _, err := ParseCSRAttrs(bad); err == nil {
			t.Errorf("parsed %x", bad)
		}
	}
}

func TestCSRPolicyCheck(t *testing.T) {
	ecKey := mustKey(t)
	edKey := mustEd25519(t)
	rsaKey := mustRSAKey(t)
	serial := pkix.Name{SerialNumber: "S"}
	tests := []struct {
		name   string
		pol    *CSRPolicy
		csr    []byte
		serial string
		status int
	}{
		{"nil policy allows P-256", nil, makeCSR(t, ecKey, csrOpts{}), "", 0},
		{"Ed25519 allowed", &CSRPolicy{KeyTypes: []KeyType{KeyEd25519}}, makeCSR(t, edKey, csrOpts{}), "", 0},
		{"Ed25519 not allowed", &CSRPolicy{}, makeCSR(t, edKey, csrOpts{}), "", 403},
		{"RSA-2048 allowed", &CSRPolicy{KeyTypes: []KeyType{KeyRSA2048}}, makeCSR(t, rsaKey, csrOpts{}), "", 0},
		{"RSA-3072 only", &CSRPolicy{KeyTypes: []KeyType{KeyRSA3072}}, makeCSR(t, rsaKey, csrOpts{}), "", 403},
		{"serial required, identity has none", &CSRPolicy{RequireSerialNumber: true}, makeCSR(t, ecKey, csrOpts{subject: serial}), "", 403},
		{"serial matches", &CSRPolicy{RequireSerialNumber: true}, makeCSR(t, ecKey, csrOpts{subject: serial}), "S", 0},
		{"allowed extra extension", &CSRPolicy{AllowedExtensions: []asn1.ObjectIdentifier{{1, 2, 3}}}, makeCSR(t, ecKey, csrOpts{exts: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}}), "", 0},
		{"requested extension allowed", &CSRPolicy{RequestedExtensions: []asn1.ObjectIdentifier{{1, 2, 3}}}, makeCSR(t, ecKey, csrOpts{exts: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}}), "", 0},
		{"leaf basicConstraints allowed", nil, makeCSR(t, ecKey, csrOpts{exts: []pkix.Extension{{Id: OIDExtBasicConstraints, Value: []byte{0x30, 0}}}}), "", 0},
		{"malformed basicConstraints", nil, makeCSR(t, ecKey, csrOpts{exts: []pkix.Extension{{Id: OIDExtBasicConstraints, Value: []byte{0x04, 0}}}}), "", 400},
		{"binding required, session has none", &CSRPolicy{RequireChannelBinding: true}, makeCSR(t, ecKey, csrOpts{challenge: "abc"}), "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.pol.Check(mustParseCSRT(t, tt.csr), tt.serial, Peer{})
			if tt.status == 0 && err != nil || tt.status != 0 && statusOf(err) != tt.status {
				t.Fatalf("err %v, want status %d", err, tt.status)
			}
		})
	}
	t.Run("binding not base64", func(t *testing.T) {
		err := (&CSRPolicy{RequireChannelBinding: true}).Check(mustParseCSRT(t, makeCSR(t, ecKey, csrOpts{challenge: "%%%"})), "", Peer{ChannelBinding: []byte{1}})
		if statusOf(err) != 403 {
			t.Fatal(err)
		}
	})
	t.Run("binding missing", func(t *testing.T) {
		err := (&CSRPolicy{RequireChannelBinding: true}).Check(mustParseCSRT(t, makeCSR(t, ecKey, csrOpts{})), "", Peer{ChannelBinding: []byte{1}})
		if statusOf(err) != 403 || !strings.Contains(err.Error(), "lacks the channel binding") {
			t.Fatal(err)
		}
	})
}

func TestCSRPolicyAttrsUnknownKeyType(t *testing.T) {
	if _, err := NewServer(newTestPKI(t).ca, WithPolicy(AllowAuthenticated), WithCSRPolicy(&CSRPolicy{KeyTypes: []KeyType{"DSA-1024"}})); err == nil {
		t.Fatal("accepted an unknown key type")
	}
	for _, kt := range []KeyType{KeyECP256, KeyECP384, KeyECP521, KeyEd25519, KeyRSA2048} {
		attrs, err := (&CSRPolicy{KeyTypes: []KeyType{kt}}).CSRAttrs()
		if err != nil || len(attrs) == 0 {
			t.Errorf("%s: %v", kt, err)
		}
	}
}
