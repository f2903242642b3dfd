package voucher

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Each way a voucher, a pledge request or a registrar request can be
// wrong is refused with its own typed error and status.
func TestPledgeRejectsVoucher(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	other := newPKI(t, elliptic.P256())
	good := p.voucher(t, "nonce-1", nil)
	if _, err := CheckVoucher(good, p.voucherCheck("nonce-1")); err != nil {
		t.Fatalf("good voucher refused: %v", err)
	}
	tampered := bytes.Replace(good, []byte(p.serial), []byte("LF-0002"), 1)
	if bytes.Equal(tampered, good) {
		t.Fatal("serial not found in CMS")
	}
	tests := []struct {
		name   string
		cms    []byte
		mutate func(*VoucherCheck)
		want   *Error
		status int
	}{
		{"tampered content", tampered, nil, ErrBadSignature, 403},
		{"untrusted chain", other.voucher(t, "nonce-1", func(v *Voucher) { v.SerialNumber = p.serial }), nil, ErrUntrusted, 403},
		{"nonce mismatch", good, func(c *VoucherCheck) { c.Nonce = "nonce-2" }, ErrNonceMismatch, 403},
		{"nonce absent from voucher", p.voucher(t, "", nil), nil, ErrNonceMismatch, 403},
		{"nonceless allowed", p.voucher(t, "", nil), func(c *VoucherCheck) { c.AllowNonceless = true }, nil, 0},
		{"serial mismatch", good, func(c *VoucherCheck) { c.SerialNumber = "LF-9999" }, ErrSerialMismatch, 403},
		{"expired voucher", p.voucher(t, "nonce-1", func(v *Voucher) { v.ExpiresOn = p.now.Add(time.Minute) }),
			func(c *VoucherCheck) { c.At = p.now.Add(time.Hour) }, ErrExpired, 403},
		{"MASA certificate expired", good, func(c *VoucherCheck) { c.At = p.masaValidTill.Add(time.Hour) }, ErrExpired, 403},
		{"missing pinned-domain-cert", p.voucher(t, "nonce-1", func(v *Voucher) { v.PinnedDomainCert = nil }), nil, ErrMissingLeaf, 400},
		{"missing serial-number", p.voucher(t, "nonce-1", func(v *Voucher) { v.SerialNumber = "" }), nil, ErrMissingLeaf, 400},
		{"unknown assertion", p.voucher(t, "nonce-1", func(v *Voucher) { v.Assertion = "trusted" }), nil, ErrUnknownAssertion, 400},
		{"truncated CMS", good[:len(good)/2], nil, ErrMalformed, 400},
		{"truncated by one byte", good[:len(good)-1], nil, ErrMalformed, 400},
		{"empty CMS", nil, nil, ErrMalformed, 400},
		{"garbage", []byte("this is not a voucher at all"), nil, ErrMalformed, 400},
		{"JSON instead of CMS", []byte(`{"ietf-voucher:voucher":{}}`), nil, ErrMalformed, 400},
		{"no anchor", good, func(c *VoucherCheck) { c.ManufacturerRoots = nil }, ErrUntrusted, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := p.voucherCheck("nonce-1")
			if tt.mutate != nil {
				tt.mutate(&c)
			}
			_, err := CheckVoucher(tt.cms, c)
			wantOutcome(t, err, tt.want, tt.status)
		})
	}
}

func TestRegistrarRejectsPledgeRequest(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	other := newPKI(t, elliptic.P256())
	good, _ := p.pledgeRequest(t, "n1")
	signWith := func(r *VoucherRequest) []byte {
		der, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequest(r)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	base := func() *VoucherRequest {
		return &VoucherRequest{Artifact: Artifact{Assertion: AssertionProximity, SerialNumber: p.serial, Nonce: "n1"}, ProximityRegistrarCert: p.registrar.Raw}
	}
	tests := []struct {
		name   string
		cms    []byte
		mutate func(*PledgeRequestCheck)
		want   *Error
		status int
	}{
		{"good", good, nil, nil, 0},
		{"signed by another IDevID than the session's", good, func(c *PledgeRequestCheck) { c.PeerCert = other.idevid }, ErrWrongSigner, http.StatusUnauthorized},
		{"proximity certificate mismatch", good, func(c *PledgeRequestCheck) { c.RegistrarCert = other.registrar }, ErrProximityMismatch, http.StatusUnauthorized},
		{"serial mismatch", signWith(func() *VoucherRequest { r := base(); r.SerialNumber = "LF-0002"; return r }()), nil, ErrSerialMismatch, 403},
		{"missing nonce", signWith(func() *VoucherRequest { r := base(); r.Nonce = ""; return r }()), nil, ErrMissingLeaf, 400},
		{"missing proximity-registrar-cert", signWith(func() *VoucherRequest { r := base(); r.ProximityRegistrarCert = nil; return r }()), nil, ErrMissingLeaf, 400},
		{"prior-signed in a pledge request", signWith(func() *VoucherRequest { r := base(); r.PriorSignedVoucherRequest = []byte{1}; return r }()), nil, ErrForbiddenLeaf, 400},
		// RFC 8995 3.4: a voucher-only leaf in a request MUST be ignored
		// (it was forbidden-leaf before issue 15); lenient_test.go shows it
		// is dropped.
		{"pinned-domain-cert in a pledge request is ignored", signWith(func() *VoucherRequest { r := base(); r.PinnedDomainCert = p.domainCA.Raw; return r }()), nil, nil, 0},
		// rfc8366bis refines last-renewal-date in a voucher-request to
		// "any occurrence MUST be ignored" (it was forbidden-leaf before).
		{"last-renewal-date in a pledge request is ignored", signWith(func() *VoucherRequest { r := base(); r.LastRenewalDate = p.now; return r }()), nil, nil, 0},
		{"assertion other than proximity", signWith(func() *VoucherRequest { r := base(); r.Assertion = AssertionVerified; return r }()), nil, ErrForbiddenLeaf, 400},
		{"untrusted manufacturer", good, func(c *PledgeRequestCheck) { c.ManufacturerRoots = poolOf(other.mfgCA) }, ErrUntrusted, 403},
		{"serial from HardwareModuleName absent", good, func(c *PledgeRequestCheck) { c.Serial = SerialFromHardwareModuleName }, ErrMissingLeaf, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, At: p.now}
			if tt.mutate != nil {
				tt.mutate(&c)
			}
			_, err := CheckPledgeRequest(tt.cms, c)
			wantOutcome(t, err, tt.want, tt.status)
		})
	}
}

func TestMASARejectsRegistrarRequest(t *testing.T) {
	p := newPKI(t, elliptic.P384())
	other := newPKI(t, elliptic.P384())
	pledge, _ := p.pledgeRequest(t, "n1")
	check := RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(p.mfgCA), At: p.now}

	rr, err := CheckRegistrarRequest(p.registrarRequest(t, pledge, nil), check)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rr.DomainCert.Raw, p.domainCA.Raw) || rr.Prior.Nonce != "n1" || !bytes.Equal(rr.IDevID.Raw, p.idevid.Raw) {
		t.Error("accepted request reports the wrong chain, prior or IDevID")
	}

	// A registrar certificate without id-kp-cmcRA.
	plain := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "not an RA"}, NotBefore: p.now.Add(-time.Hour), NotAfter: p.now.Add(time.Hour)},
		p.domainCA, p.registrarKey.Public(), p.domainKey)
	rreq, _ := NewRegistrarRequest(pledge, mustParseRequest(t, pledge), p.idevid, p.now)
	notRA, err := (&Signer{Cert: plain, Key: p.registrarKey}).SignVoucherRequest(rreq)
	if err != nil {
		t.Fatal(err)
	}
	otherPledge, _ := other.pledgeRequest(t, "n1")

	tests := []struct {
		name   string
		cms    []byte
		mutate func(*RegistrarRequestCheck)
		want   *Error
	}{
		{"nonce mismatch", p.registrarRequest(t, pledge, func(r *VoucherRequest) { r.Nonce = "n2" }), nil, ErrNonceMismatch},
		{"serial mismatch", p.registrarRequest(t, pledge, func(r *VoucherRequest) { r.SerialNumber = "LF-0002" }), nil, ErrSerialMismatch},
		{"idevid-issuer of another CA", p.registrarRequest(t, pledge, func(r *VoucherRequest) { r.IDevIDIssuer = []byte{0x30, 0} }), nil, ErrPriorMismatch},
		{"missing prior-signed-voucher-request", p.registrarRequest(t, pledge, func(r *VoucherRequest) { r.PriorSignedVoucherRequest = nil }), nil, ErrMissingLeaf},
		{"proximity leaves in a registrar request", p.registrarRequest(t, pledge, func(r *VoucherRequest) { r.ProximityRegistrarCert = p.registrar.Raw }), nil, ErrForbiddenLeaf},
		{"prior signed by an unknown manufacturer", p.registrarRequest(t, pledge, func(r *VoucherRequest) { r.PriorSignedVoucherRequest = otherPledge }), nil, ErrUntrusted},
		{"prior tampered", p.registrarRequest(t, pledge, func(r *VoucherRequest) {
			r.PriorSignedVoucherRequest = bytes.Replace(pledge, []byte(`"n1"`), []byte(`"n2"`), 1)
		}), nil, ErrBadSignature},
		{"signer without id-kp-cmcRA", notRA, nil, ErrWrongSigner},
		{"registrar expired, no domain anchor", p.registrarRequest(t, pledge, nil), func(c *RegistrarRequestCheck) {
			c.DomainRoots, c.At = nil, p.registrar.NotAfter.Add(time.Hour)
		}, ErrExpired},
		{"registrar of another domain", p.registrarRequest(t, pledge, nil), func(c *RegistrarRequestCheck) { c.DomainRoots = poolOf(other.domainCA) }, ErrUntrusted},
		{"pledge pinned another registrar", p.registrarRequest(t, other.registrarRequestPledgeFor(t, p), nil), nil, ErrProximityMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := check
			if tt.mutate != nil {
				tt.mutate(&c)
			}
			_, err := CheckRegistrarRequest(tt.cms, c)
			e := wantCode(t, err, tt.want)
			if e.Status != http.StatusForbidden && e.Status != http.StatusBadRequest {
				t.Errorf("MASA status %d", e.Status)
			}
		})
	}
}

// registrarRequestPledgeFor returns a pledge request of p's device that
// pins o's registrar instead of p's.
func (o *testPKI) registrarRequestPledgeFor(t *testing.T, p *testPKI) []byte {
	t.Helper()
	r, err := NewPledgeRequest(PledgeRequestParams{SerialNumber: p.serial, Nonce: "n1", RegistrarCert: o.registrar, CreatedOn: p.now})
	if err != nil {
		t.Fatal(err)
	}
	der, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func mustParseRequest(t *testing.T, cms []byte) *VoucherRequest {
	t.Helper()
	sc, err := ParseSigned(cms)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseVoucherRequestJSON(sc.Content)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// An eContentType other than the two accepted is 415.
func TestUnsupportedContentType(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, PinnedDomainCert: p.domainCA.Raw}}
	der, err := (&Signer{Cert: p.masa, Key: p.masaKey, ContentType: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}}).SignVoucher(v)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(der, VerifyOptions{})
	if e := wantCode(t, err, ErrUnsupportedContent); e.Status != http.StatusUnsupportedMediaType {
		t.Errorf("status %d", e.Status)
	}
}

// Out-of-band certificates complete a chain the CMS does not carry.
func TestOutOfBandIntermediate(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	ik := newKey(t, elliptic.P256())
	inter := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "MASA issuing CA"}, NotBefore: p.now.Add(-time.Hour), NotAfter: p.now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, p.mfgCA, ik.Public(), p.mfgKey)
	mk := newKey(t, elliptic.P256())
	masa := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "MASA"}, NotBefore: p.now.Add(-time.Hour), NotAfter: p.now.Add(time.Hour)}, inter, mk.Public(), ik)
	v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "x", PinnedDomainCert: p.domainCA.Raw}}
	der, err := (&Signer{Cert: masa, Key: mk}).SignVoucher(v)
	if err != nil {
		t.Fatal(err)
	}
	c := p.voucherCheck("x")
	_, err = CheckVoucher(der, c)
	wantCode(t, err, ErrUntrusted)
	c.MASACerts = []*x509.Certificate{inter}
	if _, err := CheckVoucher(der, c); err != nil {
		t.Fatal(err)
	}
}

// The JSON decoder refuses what YANG-JSON does not allow.
func TestParseJSONStrict(t *testing.T) {
	const cert = `"MIIB"`
	tests := []struct {
		name string
		js   string
		want *Error
	}{
		{"unknown leaf", `{"ietf-voucher:voucher":{"assertion":"logged","created-on":"2021-01-01T00:00:00Z","serial-number":"a","pinned-domain-pubk-sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","colour":"red"}}`, ErrUnknownLeaf},
		{"unknown assertion", `{"ietf-voucher:voucher":{"assertion":"trusted"}}`, ErrUnknownAssertion},
		{"missing created-on", `{"ietf-voucher:voucher":{"assertion":"logged","serial-number":"a","pinned-domain-pubk-sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`, ErrMissingLeaf},
		{"missing assertion", `{"ietf-voucher:voucher":{"created-on":"2021-01-01T00:00:00Z","serial-number":"a","pinned-domain-pubk-sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`, ErrMissingLeaf},
		{"request leaf in a voucher", `{"ietf-voucher:voucher":{"proximity-registrar-cert":` + cert + `}}`, ErrUnknownLeaf},
		{"wrong container", `{"ietf-voucher-request:voucher":{}}`, ErrUnknownLeaf},
		{"no container", `{}`, ErrMissingLeaf},
		{"repeated leaf", `{"ietf-voucher:voucher":{"nonce":"a","nonce":"b"}}`, ErrMalformed},
		{"number for string", `{"ietf-voucher:voucher":{"serial-number":5}}`, ErrMalformed},
		{"null", `{"ietf-voucher:voucher":{"serial-number":null}}`, ErrMalformed},
		{"bad date", `{"ietf-voucher:voucher":{"created-on":"yesterday"}}`, ErrMalformed},
		{"bad base64", `{"ietf-voucher:voucher":{"pinned-domain-cert":"!!"}}`, ErrMalformed},
		{"bad boolean", `{"ietf-voucher:voucher":{"domain-cert-revocation-checks":"yes"}}`, ErrMalformed},
		{"trailing data", `{"ietf-voucher:voucher":{}} {}`, ErrMalformed},
		{"array", `[]`, ErrMalformed},
		{"empty", ``, ErrMalformed},
		{"pinned cert not a certificate", `{"ietf-voucher:voucher":{"assertion":"logged","created-on":"2021-01-01T00:00:00Z","serial-number":"a","pinned-domain-cert":"AAAA"}}`, ErrMalformed},
		// rfc8366bis makes several pins legal (bis_test.go), each still
		// of its type.
		{"two pins, one not a certificate", `{"ietf-voucher:voucher":{"assertion":"logged","created-on":"2021-01-01T00:00:00Z","serial-number":"a","pinned-domain-cert":"AAAA","pinned-domain-pubk-sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`, ErrMalformed},
		{"two pins, one not a digest", `{"ietf-voucher:voucher":{"assertion":"logged","created-on":"2021-01-01T00:00:00Z","serial-number":"a","pinned-domain-pubk":"AAAA","pinned-domain-pubk-sha256":"AAAA"}}`, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseVoucherJSON([]byte(tt.js))
			wantCode(t, err, tt.want)
		})
	}
}

// Every leaf survives an encode/decode round trip.
func TestJSONRoundTripAllLeaves(t *testing.T) {
	yes := true
	loc := time.FixedZone("", -4*3600)
	r := &VoucherRequest{
		Artifact: Artifact{
			CreatedOn:                  time.Date(2021, 4, 13, 17, 43, 23, 740e6, loc),
			ExpiresOn:                  time.Date(2021, 4, 20, 0, 0, 0, 0, time.UTC),
			Assertion:                  AssertionAgentProximity,
			SerialNumber:               "S<1>&",
			IDevIDIssuer:               []byte{0x30, 0x16, 0x80, 0x14},
			PinnedDomainCert:           []byte{1},
			PinnedDomainPubk:           []byte{2},
			PinnedDomainPubkSHA256:     bytes.Repeat([]byte{3}, 32),
			DomainCertRevocationChecks: &yes,
			Nonce:                      "-_XE9zK9q8Ll1qylMtLKeg",
			LastRenewalDate:            time.Date(2022, 1, 1, 0, 0, 0, 1, time.UTC),
		},
		PriorSignedVoucherRequest:    []byte{4},
		ProximityRegistrarCert:       []byte{5},
		ProximityRegistrarPubk:       []byte{6},
		ProximityRegistrarPubkSHA256: []byte{7},
	}
	js, _ := r.MarshalJSON()
	for _, leaf := range []string{`"created-on":"2021-04-13T17:43:23.740-04:00"`, `"serial-number":"S<1>&"`, `"domain-cert-revocation-checks":true`, `"last-renewal-date":"2022-01-01T00:00:00.000000001Z"`} {
		if !strings.Contains(string(js), leaf) {
			t.Errorf("%s lacks %s", js, leaf)
		}
	}
	back, err := ParseVoucherRequestJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	// The voucher-only leaves do not survive a request's decoding: RFC 8995
	// 3.4 says they MUST be ignored (issue 15). Everything else does.
	if back.PinnedDomainCert != nil || back.PinnedDomainPubk != nil || back.PinnedDomainPubkSHA256 != nil || back.DomainCertRevocationChecks != nil || !back.LastRenewalDate.IsZero() {
		t.Errorf("voucher-only leaves kept: %+v", back.Artifact)
	}
	want := *r
	want.PinnedDomainCert, want.PinnedDomainPubk, want.PinnedDomainPubkSHA256, want.DomainCertRevocationChecks = nil, nil, nil, nil
	want.LastRenewalDate = time.Time{} // rfc8366bis: ignored in a request too
	wantJS, _ := want.MarshalJSON()
	js2, _ := back.MarshalJSON()
	if !bytes.Equal(wantJS, js2) {
		t.Errorf("round trip:\n%s\n%s", wantJS, js2)
	}
	if !back.CreatedOn.Equal(r.CreatedOn) {
		t.Error("values changed")
	}
	// In a voucher they are its own leaves and round-trip.
	v := &Voucher{Artifact: r.Artifact}
	vjs, _ := v.MarshalJSON()
	vback, err := decodeVoucher(vjs)
	if err != nil {
		t.Fatal(err)
	}
	if vjs2, _ := vback.MarshalJSON(); !bytes.Equal(vjs, vjs2) || *vback.DomainCertRevocationChecks != true {
		t.Errorf("voucher round trip:\n%s\n%s", vjs, vjs2)
	}
}
