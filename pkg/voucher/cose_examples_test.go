package voucher

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// The COSE examples of draft-ietf-anima-constrained-voucher (appendix
// "COSE examples"), as its authors' scripts wrote them: see
// testdata/README.md for the source commit.

func readHex(t testing.TB, name string) []byte {
	t.Helper()
	s := strings.Join(strings.Fields(string(readFile(t, name))), "")
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

func cvCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	return readCert(t, "constrained-voucher/"+name+".pem")
}

// cvAt is a time every certificate of the set is valid at (the objects
// were signed on 2022-12-06 with keys whose certificates were later
// re-issued on 2022-12-09).
var cvAt = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

// The registrar checks the example PVR: signed by the session's IDevID,
// which chains to the MASA CA, pinning the registrar's key by
// proximity-registrar-pubk.
func TestCOSEExamplePledgeRequest(t *testing.T) {
	pvr := readHex(t, "constrained-voucher/pvr.hex")
	got, err := CheckPledgeRequest(pvr, PledgeRequestCheck{
		PeerCert:          cvCert(t, "pledge"),
		RegistrarCert:     cvCert(t, "registrar"),
		ManufacturerRoots: poolOf(cvCert(t, "masa_ca")),
		At:                cvAt,
		Format:            FormatCOSE,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := got.Request
	if r.Assertion != AssertionProximity || r.SerialNumber != "JADA123456789" || r.Nonce != NonceFromBytes([]byte{0x23, 0xbf, 0xbb, 0xc9, 0xc2, 0xbc, 0xf2, 0x13}) {
		t.Errorf("request %+v", r)
	}
	sc, _ := ParseCOSE(pvr)
	if want := readHex(t, "constrained-voucher/pvr-nonsigned.hex"); string(sc.Content) != string(want) {
		t.Error("payload is not pvr-nonsigned.hex")
	}
	if again, err := r.MarshalCBOR(); err != nil || string(again) != string(sc.Content) {
		t.Errorf("re-encoded PVR differs: %x, %v", again, err)
	}

	// Another pledge of the same manufacturer on the session: 401.
	p := newPKI(t, cvCert(t, "pledge").PublicKey.(*ecdsa.PublicKey).Curve)
	_, err = CheckPledgeRequest(pvr, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: cvCert(t, "registrar"), At: cvAt, Format: FormatCOSE})
	wantOutcome(t, err, ErrBadSignature, 403)
	// A registrar whose key the pledge did not pin.
	_, err = CheckPledgeRequest(pvr, PledgeRequestCheck{PeerCert: cvCert(t, "pledge"), RegistrarCert: p.registrar, At: cvAt, Format: FormatCOSE})
	wantCode(t, err, ErrProximityMismatch)
}

// The MASA checks the example RVR: the registrar's x5bag carries its
// certificate and the domain CA, the PVR inside carries nothing and is
// verified with the IDevID the MASA knows.
func TestCOSEExampleRegistrarRequest(t *testing.T) {
	rvr := readHex(t, "constrained-voucher/rvr.hex")
	c := RegistrarRequestCheck{
		DomainRoots:       poolOf(cvCert(t, "domain_ca")),
		ManufacturerRoots: poolOf(cvCert(t, "masa_ca")),
		Intermediates:     []*x509.Certificate{cvCert(t, "pledge")},
		At:                cvAt,
		Format:            FormatCOSE,
	}
	got, err := CheckRegistrarRequest(rvr, c)
	if err != nil {
		t.Fatal(err)
	}
	if got.IDevID.Subject.SerialNumber != "JADA123456789" || got.Prior == nil || got.Request.Nonce != got.Prior.Nonce {
		t.Errorf("accepted %+v", got)
	}
	if got.DomainCert.Subject.CommonName != "Custom-ER Global CA" {
		t.Errorf("pins %s", got.DomainCert.Subject)
	}
	sc, _ := ParseCOSE(rvr)
	if want := readHex(t, "constrained-voucher/rvr-nonsigned.hex"); string(sc.Content) != string(want) {
		t.Error("payload is not rvr-nonsigned.hex")
	}

	// Stripped of its x5bag, the RVR verifies only with the registrar
	// supplied.
	stripped, err := StripCOSECerts(rvr)
	if err != nil {
		t.Fatal(err)
	}
	if len(stripped) >= len(rvr) {
		t.Errorf("stripped %d bytes of %d", len(rvr)-len(stripped), len(rvr))
	}
	_, err = VerifyCOSE(stripped, VerifyOptions{})
	wantCode(t, err, ErrNoSignerCert)
	_, err = CheckRegistrarRequest(stripped, c) // only the pledge supplied
	wantCode(t, err, ErrBadSignature)
	c.Intermediates = append(c.Intermediates, cvCert(t, "registrar"))
	if _, err := CheckRegistrarRequest(stripped, c); err != nil {
		t.Fatal(err)
	}
	// Against another domain's anchor: untrusted.
	p := newPKI(t, elliptic.P256())
	c.DomainRoots = poolOf(p.domainCA)
	_, err = CheckRegistrarRequest(rvr, c)
	wantCode(t, err, ErrUntrusted)
}

// The pledge checks the example voucher, signed with the MASA CA's own
// key (masa.stok.nl), which the pledge holds as its anchor.
func TestCOSEExampleVoucher(t *testing.T) {
	vb := readHex(t, "constrained-voucher/voucher.hex")
	masaCA := cvCert(t, "masa_ca")
	check := VoucherCheck{
		ManufacturerRoots: poolOf(masaCA),
		MASACerts:         []*x509.Certificate{masaCA},
		SerialNumber:      "JADA123456789",
		Nonce:             NonceFromBytes([]byte{0x57, 0xee, 0xd7, 0x86, 0xad, 0x40, 0x49, 0x07}),
		At:                cvAt,
		Format:            FormatCOSE,
	}
	got, err := CheckVoucher(vb, check)
	if err != nil {
		t.Fatal(err)
	}
	if got.PinnedDomainCert == nil || got.PinnedDomainCert.Subject.CommonName != "Custom-ER Global CA" || got.Voucher.Assertion != AssertionProximity {
		t.Errorf("accepted %+v", got.Voucher)
	}
	if got.Voucher.DomainCertRevocationChecks == nil || *got.Voucher.DomainCertRevocationChecks {
		t.Error("domain-cert-revocation-checks is false in the example")
	}
	sc, _ := ParseCOSE(vb)
	if want := readHex(t, "constrained-voucher/voucher-nonsigned.hex"); string(sc.Content) != string(want) {
		t.Error("payload is not voucher-nonsigned.hex")
	}
	// A pledge without a clock judges the MASA at created-on, 2022-12-06,
	// before the re-issued masa_ca.pem of the set is valid.
	clockless := check
	clockless.At = time.Time{}
	_, err = CheckVoucher(vb, clockless)
	wantCode(t, err, ErrExpired)
	// Another MASA's anchor, a tampered payload, another nonce.
	p := newPKI(t, elliptic.P256())
	bad := check
	bad.ManufacturerRoots, bad.MASACerts = poolOf(p.mfgCA), []*x509.Certificate{p.masa}
	_, err = CheckVoucher(vb, bad)
	wantCode(t, err, ErrBadSignature)
	bad.MASACerts = []*x509.Certificate{masaCA}
	_, err = CheckVoucher(vb, bad)
	wantCode(t, err, ErrUntrusted)
	tampered := append([]byte(nil), vb...)
	i := strings.Index(string(tampered), "JADA123456789")
	tampered[i] = 'K'
	_, err = CheckVoucher(tampered, check)
	wantCode(t, err, ErrBadSignature)
	bad = check
	bad.Nonce = "AAAAAAAAAAA"
	_, err = CheckVoucher(vb, bad)
	wantCode(t, err, ErrNonceMismatch)
}
