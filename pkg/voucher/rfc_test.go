package voucher

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
)

// The RFC 8995 Appendix C artifacts verify at 2021-05-01 in every role, and
// their JSON re-encodes byte for byte.
func TestAppendixCPledgeRequest(t *testing.T) {
	der := readB64(t, "rfc8995-appendix-c/vr_00-D0-E5-F2-00-02.b64")
	sc, err := Verify(der, VerifyOptions{Roots: poolOf(readCert(t, "rfc8995-appendix-c/vendor.crt")), At: rfcTime})
	if err != nil {
		t.Fatal(err)
	}
	if !sc.ContentType.Equal(OIDData) {
		t.Errorf("eContentType %s, the RFC's examples use id-data", sc.ContentType)
	}
	pr, err := CheckPledgeRequest(der, PledgeRequestCheck{
		PeerCert:          sc.Signer, // the IDevID the session authenticated
		RegistrarCert:     readCert(t, "rfc8995-appendix-c/jrc_prime256v1.crt"),
		ManufacturerRoots: poolOf(readCert(t, "rfc8995-appendix-c/vendor.crt")),
		At:                rfcTime,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := pr.Request
	if r.SerialNumber != appendixSerial || r.Nonce != appendixNonce || r.Assertion != AssertionProximity {
		t.Errorf("request %+v", r.Artifact)
	}
	if got := r.CreatedOn.Format("2006-01-02T15:04:05.000Z07:00"); got != "2021-04-13T17:43:23.747-04:00" {
		t.Errorf("created-on %s", got)
	}
	assertRoundTrip(t, sc.Content, r)
}

func TestAppendixCRegistrarRequest(t *testing.T) {
	der := readB64(t, "rfc8995-appendix-c/parboiled_vr_00-D0-E5-F2-00-02.b64")
	rr, err := CheckRegistrarRequest(der, RegistrarRequestCheck{
		DomainRoots:       poolOf(readCert(t, "rfc8995-appendix-c/ownerca_secp384r1.crt")),
		ManufacturerRoots: poolOf(readCert(t, "rfc8995-appendix-c/vendor.crt")),
		At:                rfcTime,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rr.Registrar.Raw, readCert(t, "rfc8995-appendix-c/jrc_prime256v1.crt").Raw) {
		t.Error("registrar is not the JRC")
	}
	if !bytes.Equal(rr.DomainCert.Raw, readCert(t, "rfc8995-appendix-c/ownerca_secp384r1.crt").Raw) {
		t.Errorf("pinned %q, want the owner CA", rr.DomainCert.Subject)
	}
	if rr.Prior == nil || rr.Prior.Nonce != appendixNonce || rr.Request.Nonce != appendixNonce {
		t.Error("prior request or nonce missing")
	}
	if !bytes.Equal(rr.Request.PriorSignedVoucherRequest, readB64(t, "rfc8995-appendix-c/vr_00-D0-E5-F2-00-02.b64")) {
		t.Error("prior-signed-voucher-request is not the pledge's CMS")
	}
	sc, err := ParseSigned(der)
	if err != nil {
		t.Fatal(err)
	}
	assertRoundTrip(t, sc.Content, rr.Request)

	// Without the owner CA, the MASA pins the top of the carried chain.
	rr2, err := CheckRegistrarRequest(der, RegistrarRequestCheck{ManufacturerRoots: poolOf(readCert(t, "rfc8995-appendix-c/vendor.crt")), At: rfcTime})
	if err != nil {
		t.Fatal(err)
	}
	if len(rr2.RegistrarChain) == 0 || rr2.DomainCert == nil {
		t.Fatal("no pinned chain extracted")
	}
	t.Logf("carried chain pins %q", rr2.DomainCert.Subject)
}

func TestAppendixCVoucher(t *testing.T) {
	der := readB64(t, "rfc8995-appendix-c/voucher_00-D0-E5-F2-00-02.b64")
	masa := readCert(t, "rfc8995-appendix-c/masa.crt")
	av, err := CheckVoucher(der, VoucherCheck{
		ManufacturerRoots: poolOf(readCert(t, "rfc8995-appendix-c/vendor.crt")),
		MASACerts:         []*x509.Certificate{masa},
		SerialNumber:      appendixSerial,
		Nonce:             appendixNonce,
		At:                rfcTime,
	})
	if err != nil {
		t.Fatal(err)
	}
	if av.Voucher.Assertion != AssertionLogged {
		t.Errorf("assertion %q", av.Voucher.Assertion)
	}
	if !bytes.Equal(av.PinnedDomainCert.Raw, readCert(t, "rfc8995-appendix-c/jrc_prime256v1.crt").Raw) {
		t.Errorf("pinned %q, want the JRC", av.PinnedDomainCert.Subject)
	}
	if !bytes.Equal(av.Signer.Raw, masa.Raw) {
		t.Error("signer is not the MASA")
	}
	sc, _ := ParseSigned(der)
	assertRoundTrip(t, sc.Content, av.Voucher)

	// Contrary to the shared README, this CMS does carry its MASA
	// certificate; supplying it again out of band is harmless, and the
	// voucher verifies without it too.
	if _, err := CheckVoucher(der, VoucherCheck{
		ManufacturerRoots: poolOf(readCert(t, "rfc8995-appendix-c/vendor.crt")),
		SerialNumber:      appendixSerial, Nonce: appendixNonce, At: rfcTime,
	}); err != nil {
		t.Fatal(err)
	}
}

// The decoded JSON files shipped with the examples match the CMS content.
func TestAppendixCJSONFiles(t *testing.T) {
	for _, name := range []string{"vr", "parboiled_vr", "voucher"} {
		t.Run(name, func(t *testing.T) {
			sc, err := ParseSigned(readB64(t, "rfc8995-appendix-c/"+name+"_00-D0-E5-F2-00-02.b64"))
			if err != nil {
				t.Fatal(err)
			}
			js := strings.Join(strings.Fields(string(readFile(t, "rfc8995-appendix-c/"+name+"_00-D0-E5-F2-00-02.json"))), "")
			if js != string(sc.Content) {
				t.Errorf("JSON file differs from CMS content")
			}
		})
	}
}

// A registrar voucher-request that Landfall builds from the Appendix C
// pledge request carries the same leaves as the RFC's, byte for byte once
// created-on is the RFC's, plus idevid-issuer: the Appendix C IDevID has no
// Authority Key Identifier, so RFC 8995's registrar left it out, and
// rfc8366bis (5.1, rule 2) now has the registrar compute one.
func TestRegistrarRequestLikeAppendixC(t *testing.T) {
	vr := readB64(t, "rfc8995-appendix-c/vr_00-D0-E5-F2-00-02.b64")
	sc, err := Verify(vr, VerifyOptions{At: rfcTime})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := CheckPledgeRequest(vr, PledgeRequestCheck{PeerCert: sc.Signer, RegistrarCert: readCert(t, "rfc8995-appendix-c/jrc_prime256v1.crt"), At: rfcTime})
	if err != nil {
		t.Fatal(err)
	}
	rfcSigned, _ := ParseSigned(readB64(t, "rfc8995-appendix-c/parboiled_vr_00-D0-E5-F2-00-02.b64"))
	rfcReq, err := ParseVoucherRequestJSON(rfcSigned.Content)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := NewRegistrarRequest(pr.CMS, pr.Request, pr.IDevID, rfcReq.CreatedOn)
	if err != nil {
		t.Fatal(err)
	}
	wantIssuer, _ := IDevIDIssuer(pr.IDevID)
	if !bytes.Equal(ours.IDevIDIssuer, wantIssuer) || len(wantIssuer) == 0 {
		t.Errorf("idevid-issuer %x, want %x", ours.IDevIDIssuer, wantIssuer)
	}
	withoutIssuer := *ours
	withoutIssuer.IDevIDIssuer = nil
	js, _ := withoutIssuer.MarshalJSON()
	if !bytes.Equal(js, rfcSigned.Content) {
		t.Errorf("ours:\n%s\nRFC's:\n%s", js, rfcSigned.Content)
	}
	// Signed with the JRC key and the owner CA, it passes as the RFC's does.
	signer := &Signer{
		Cert:        readCert(t, "rfc8995-appendix-c/jrc_prime256v1.crt"),
		Key:         readECKey(t, "rfc8995-appendix-c/jrc_prime256v1.key"),
		Chain:       []*x509.Certificate{readCert(t, "rfc8995-appendix-c/ownerca_secp384r1.crt")},
		ContentType: OIDData,
	}
	der, err := signer.SignVoucherRequest(ours)
	if err != nil {
		t.Fatal(err)
	}
	requireOpenSSL(t)
	dir := t.TempDir()
	out := opensslVerify(t, dir, der, []string{"-CAfile", writePEM(t, dir, "owner.pem", signer.Chain[0]), "-purpose", "any", "-attime", "1619827200"})
	if oursJS, _ := ours.MarshalJSON(); !bytes.Equal(out, oursJS) {
		t.Error("openssl returned other content")
	}
}

func TestRFC8366bisExamples(t *testing.T) {
	// The rfc8366bis set's vendor-*.crt is an RSA CA of the same name that
	// signed none of these; the ECDSA highway CA of Appendix C did.
	vendor := poolOf(readCert(t, "rfc8995-appendix-c/vendor.crt"))
	_, err := Verify(readFile(t, "rfc8366bis/vr_00-D0-E5-F2-00-02.pkcs"), VerifyOptions{Roots: poolOf(readCert(t, "rfc8366bis/vendor-00-D0-E5-F2-00-02.crt")), At: rfcTime})
	wantCode(t, err, ErrUntrusted)

	idevid := readCert(t, "rfc8366bis/00-D0-E5-F2-00-02.crt")
	masa := readCert(t, "rfc8366bis/masa-00-D0-E5-F2-00-02.crt")

	vr := readFile(t, "rfc8366bis/vr_00-D0-E5-F2-00-02.pkcs")
	sc, err := Verify(vr, VerifyOptions{Roots: vendor, At: rfcTime})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sc.Signer.Raw, idevid.Raw) {
		t.Error("request not signed by the example IDevID")
	}
	req, err := ParseVoucherRequestJSON(sc.Content)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.ValidatePledgeRequest(); err != nil {
		t.Fatal(err)
	}
	registrar, err := x509.ParseCertificate(req.ProximityRegistrarCert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckPledgeRequest(vr, PledgeRequestCheck{PeerCert: idevid, RegistrarCert: registrar, ManufacturerRoots: vendor, At: rfcTime}); err != nil {
		t.Fatal(err)
	}
	assertRoundTrip(t, sc.Content, req)

	v := readFile(t, "rfc8366bis/voucher_00-D0-E5-F2-00-02.pkcs")
	av, err := CheckVoucher(v, VoucherCheck{
		ManufacturerRoots: vendor,
		MASACerts:         []*x509.Certificate{masa},
		SerialNumber:      req.SerialNumber,
		Nonce:             req.Nonce,
		At:                rfcTime,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(av.PinnedDomainCert.Raw, registrar.Raw) {
		t.Error("voucher pins another certificate than the request's registrar")
	}
	vsc, _ := ParseSigned(v)
	assertRoundTrip(t, vsc.Content, av.Voucher)
}

// assertRoundTrip checks that doc re-encodes to exactly content.
func assertRoundTrip(t *testing.T, content []byte, doc interface{ MarshalJSON() ([]byte, error) }) {
	t.Helper()
	js, err := doc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(js, content) {
		t.Errorf("re-encoded JSON differs:\n got %s\nwant %s", js, content)
	}
}
