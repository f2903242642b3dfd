package voucher

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Issue 15, rfc8366bis: the leaves it adds to the voucher and the
// voucher-request, as the draft writes them.

// rfc8366bis section 6.2 (Examples), the voucher with an extension,
// verbatim. Its pinned-domain-cert is a placeholder, so the test also
// substitutes a certificate to validate it fully.
const bisExtensionExample = `{
  "ietf-voucher:voucher": {
    "created-on": "2016-10-07T19:31:42Z",
    "assertion": "logged",
    "serial-number": "JADA123456789",
    "idevid-issuer": "base64encodedvalue==",
    "pinned-domain-cert": "base64encodedvalue==",
    "nonce": "base64encodedvalue==",
    "extensions": ["example-my-extension"],
    "extension:example-my-extension": {
      "my-ext-leaf1": "my-ext-leaf1-data"
    }
  }
}`

func TestBisExtensionExample(t *testing.T) {
	v, err := decodeVoucher([]byte(bisExtensionExample))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Extensions) != 1 || v.Extensions[0] != "example-my-extension" {
		t.Fatalf("extensions %q", v.Extensions)
	}
	if got := string(v.ExtensionData["example-my-extension"]); strings.Join(strings.Fields(got), "") != `{"my-ext-leaf1":"my-ext-leaf1-data"}` {
		t.Fatalf("extension data %s", got)
	}
	p := newPKI(t, elliptic.P256())
	real := strings.Replace(bisExtensionExample, `"pinned-domain-cert": "base64encodedvalue=="`,
		`"pinned-domain-cert": "`+base64.StdEncoding.EncodeToString(p.domainCA.Raw)+`"`, 1)
	v, err = ParseVoucherJSON([]byte(real))
	if err != nil {
		t.Fatalf("with a real pin: %v", err)
	}
	js, _ := v.MarshalJSON()
	if !bytes.Contains(js, []byte(`"extensions":["example-my-extension"],"extension:example-my-extension":{`)) {
		t.Errorf("not written back: %s", js)
	}
	back, err := ParseVoucherJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if js2, _ := back.MarshalJSON(); !bytes.Equal(js, js2) {
		t.Errorf("round trip:\n%s\n%s", js, js2)
	}

	// What the draft does not allow.
	for _, tt := range []struct {
		name, from, to string
		want           *Error
	}{
		{"sub-map of an unlisted extension", `["example-my-extension"]`, `["another"]`, ErrUnknownLeaf},
		{"name listed twice", `["example-my-extension"]`, `["example-my-extension","example-my-extension"]`, ErrMalformed},
		{"empty name", `["example-my-extension"]`, `["example-my-extension",""]`, ErrMalformed},
		{"extensions not a list", `["example-my-extension"]`, `"example-my-extension"`, ErrMalformed},
		{"number in JSON", `["example-my-extension"]`, `["example-my-extension",305823299950]`, ErrMalformed},
		{"sub-map not an object", `{
      "my-ext-leaf1": "my-ext-leaf1-data"
    }`, `"my-ext-leaf1-data"`, ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVoucherJSON([]byte(strings.Replace(real, tt.from, tt.to, 1)))
			wantCode(t, err, tt.want)
		})
	}
}

// The draft's CBOR example of the same voucher, with its ellipses filled
// in. It keys extensions by delta 17, but the draft's normative SID table
// (ietf-voucher-sid.txt) gives extensions SID 2466, delta 15; delta 17 is
// no leaf of ietf-voucher, and is refused as unknown. At 15, an extension
// named by SID, and its sub-map keyed by tag 47, cannot be carried into
// Landfall's (JSON) model without the extension's definition: refused as
// unsupported (415), not malformed. Names are carried.
func TestBisExtensionCBORExample(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	issuer, _ := IDevIDIssuer(p.idevid)
	body := func(extKey uint64, ext any, tagged bool) []byte {
		inner := map[any]any{
			uint64(2):  "2016-10-07T19:31:42Z",
			uint64(1):  1,
			uint64(11): "JADA123456789",
			uint64(5):  issuer,
			uint64(8):  p.domainCA.Raw,
			uint64(7):  []byte{0x83, 0x1D, 0x51, 0x98, 0xA6, 0xCA, 0x2C, 0x7F},
			extKey:     ext,
		}
		if tagged {
			inner[cbor.Tag{Number: 47, Content: uint64(305823299950)}] = map[uint64]string{1: "my-ext-leaf1-data"}
		}
		b, err := cborEnc.Marshal(map[uint64]any{SIDVoucher: inner})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	_, err := ParseVoucherCBOR(body(17, []uint64{305823299950}, true))
	wantCode(t, err, ErrUnknownLeaf)
	_, err = ParseVoucherCBOR(body(15, []uint64{305823299950}, false))
	wantCode(t, err, ErrUnsupportedContent)
	_, err = ParseVoucherCBOR(body(15, []string{"example-my-extension"}, true))
	wantCode(t, err, ErrUnsupportedContent)
	v, err := ParseVoucherCBOR(body(15, []string{"example-my-extension"}, false))
	if err != nil {
		t.Fatal(err)
	}
	if v.Assertion != AssertionLogged || len(v.Extensions) != 1 || v.Extensions[0] != "example-my-extension" || !sameIDevIDIssuer(issuer, v.IDevIDIssuer) {
		t.Errorf("decoded %+v", v.Artifact)
	}
	_, err = ParseVoucherCBOR(body(15, "example-my-extension", false))
	wantCode(t, err, ErrMalformed)
}

// est-domain, additional-configuration-url and manufacturer-proprietary in
// a voucher and in a voucher-request, in JSON and CBOR, with their SIDs.
func TestBisLeavesRoundTrip(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	proprietary := []byte{0xfb, 0xff, 0xfe, '{', '}'} // base64 "+//+e30=", base64url "-__-e30"
	art := Artifact{
		CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "4vTsppS2CeqBzhEdoifM2g",
		PinnedDomainCert:           p.domainCA.Raw,
		ESTDomain:                  "https://est.example.com:8443/.well-known/est",
		AdditionalConfigurationURL: "https://config.example.com/phone/00-D0-E5-F2-00-02",
		ManufacturerProprietary:    proprietary,
		Extensions:                 []string{"example-my-extension"},
	}
	v := &Voucher{Artifact: art}
	js, _ := v.MarshalJSON()
	for _, want := range []string{`"est-domain":"https://est.example.com:8443/.well-known/est"`, `"additional-configuration-url":"https://config.example.com/phone/00-D0-E5-F2-00-02"`, `"manufacturer-proprietary":"-__-e30"`, `"extensions":["example-my-extension"]`} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("%s lacks %s", js, want)
		}
	}
	back, err := ParseVoucherJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if back.ESTDomain != art.ESTDomain || back.AdditionalConfigurationURL != art.AdditionalConfigurationURL || !bytes.Equal(back.ManufacturerProprietary, proprietary) {
		t.Errorf("JSON round trip: %+v", back.Artifact)
	}
	// The YANG type is binary: plain base64 is read too.
	std := bytes.Replace(js, []byte(`"-__-e30"`), []byte(`"+//+e30="`), 1)
	if back, err := ParseVoucherJSON(std); err != nil || !bytes.Equal(back.ManufacturerProprietary, proprietary) {
		t.Errorf("base64 manufacturer-proprietary: %v", err)
	}

	cb, err := v.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[uint64]map[uint64]any
	if err := cborDec.Unmarshal(cb, &raw); err != nil {
		t.Fatal(err)
	}
	// ietf-voucher-sid.txt: 2463 additional-configuration-url, 2464
	// est-domain, 2465 manufacturer-proprietary (a bstr), 2466 extensions.
	if raw[SIDVoucher][12] != art.AdditionalConfigurationURL || raw[SIDVoucher][13] != art.ESTDomain || !bytes.Equal(raw[SIDVoucher][14].([]byte), proprietary) {
		t.Errorf("CBOR deltas: %v", raw[SIDVoucher])
	}
	if l, ok := raw[SIDVoucher][15].([]any); !ok || len(l) != 1 || l[0] != "example-my-extension" {
		t.Errorf("CBOR extensions: %v", raw[SIDVoucher][15])
	}
	cback, err := ParseVoucherCBOR(cb)
	if err != nil {
		t.Fatal(err)
	}
	if js2, _ := cback.MarshalJSON(); !bytes.Equal(js, js2) {
		t.Errorf("CBOR round trip:\n%s\n%s", js, js2)
	}

	// In a request, with the BRSKI-PRM leaves; ietf-voucher-request-sid.txt:
	// 2515-2517 the agent leaves, 2520-2523 the rfc8366bis ones.
	r := &VoucherRequest{Artifact: art, AgentProvidedProximityRegistrarCert: p.registrar.Raw, AgentSignCert: p.domainCA.Raw, AgentSignedData: []byte("agent-signed")}
	r.Assertion = AssertionAgentProximity
	r.PinnedDomainCert = nil
	rcb, err := r.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	var rraw map[uint64]map[uint64]any
	if err := cborDec.Unmarshal(rcb, &rraw); err != nil {
		t.Fatal(err)
	}
	in := rraw[SIDVoucherRequest]
	if !bytes.Equal(in[14].([]byte), p.registrar.Raw) || !bytes.Equal(in[15].([]byte), p.domainCA.Raw) || in[19] != art.AdditionalConfigurationURL || in[20] != art.ESTDomain || in[1] != uint64(3) {
		t.Errorf("request CBOR deltas: %v", in)
	}
	rback, err := ParseVoucherRequestCBOR(rcb)
	if err != nil {
		t.Fatal(err)
	}
	if err := rback.ValidatePledgeRequest(); err != nil {
		t.Fatal(err)
	}
	rjs, _ := r.MarshalJSON()
	if rjs2, _ := rback.MarshalJSON(); !bytes.Equal(rjs, rjs2) {
		t.Errorf("request CBOR round trip:\n%s\n%s", rjs, rjs2)
	}

	// URIs are absolute URIs.
	for _, bad := range []string{"est.example.com", "/est", "", "https://exa mple.com/"} {
		for _, leaf := range []string{"est-domain", "additional-configuration-url"} {
			_, err := ParseVoucherJSON(fixLeaf(js, leaf, bad))
			wantCode(t, err, ErrMalformed)
		}
	}
	bad := *v
	bad.ESTDomain = "est.example.com"
	wantCode(t, bad.Validate(), ErrMalformed)
}

// fixLeaf replaces the value of string leaf name in js.
func fixLeaf(js []byte, name, value string) []byte {
	s := string(js)
	i := strings.Index(s, `"`+name+`":"`)
	j := i + len(name) + 4
	k := j + strings.Index(s[j:], `"`)
	return []byte(s[:j] + value + s[k:])
}

// The MASA sets the rfc8366bis leaves through VoucherParams; a request's
// own est-domain is never copied into the voucher, and a bad URI is
// refused before anything is signed.
func TestNewVoucherBisLeaves(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	req := &VoucherRequest{Artifact: Artifact{SerialNumber: p.serial, Nonce: "n1", ESTDomain: "https://rogue.example/est"}}
	v, err := NewVoucher(req, VoucherParams{Assertion: AssertionLogged, DomainCert: p.domainCA, CreatedOn: p.now,
		ESTDomain: "https://est.example.net/.well-known/est", ManufacturerProprietary: []byte{1, 2}, Extensions: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.ESTDomain != "https://est.example.net/.well-known/est" || v.AdditionalConfigurationURL != "" || len(v.ManufacturerProprietary) != 2 || len(v.Extensions) != 1 {
		t.Errorf("voucher %+v", v.Artifact)
	}
	v, err = NewVoucher(req, VoucherParams{Assertion: AssertionLogged, DomainCert: p.domainCA, CreatedOn: p.now})
	if err != nil || v.ESTDomain != "" {
		t.Errorf("est-domain copied from the request: %q, %v", v.ESTDomain, err)
	}
	_, err = NewVoucher(req, VoucherParams{Assertion: AssertionLogged, DomainCert: p.domainCA, CreatedOn: p.now, AdditionalConfigurationURL: "config"})
	wantCode(t, err, ErrMalformed)
}
