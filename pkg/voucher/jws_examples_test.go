package voucher

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

// The examples of draft-ietf-anima-jws-voucher section 5, as its authors
// wrote them (unfolded from RFC 8792 single-backslash folding; see
// testdata/README.md for the source commit).

func jwsCerts(t testing.TB, name string) []*x509.Certificate {
	t.Helper()
	rest := readFile(t, "jws-voucher/"+name+"-certs.pem")
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) != 2 {
		t.Fatalf("%s: %d certificates", name, len(out))
	}
	return out // signer, CA
}

// assertionGap reports an example refused only for its missing
// assertion: the draft's voucher-requests have none, which RFC 8995 3.4
// allows and Landfall does not yet (issue 15, "Too strict where the RFCs
// are lenient"). It passes once that is fixed.
func assertionGap(t *testing.T, err error) bool {
	t.Helper()
	var e *Error
	if errors.As(err, &e) && e.Code == CodeMissingLeaf && strings.Contains(e.Reason, leafAssertion) {
		t.Logf("known gap: %v", err)
		return true
	}
	return false
}

var jwsAt = time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC)

func TestJWSExamplePledgeRequest(t *testing.T) {
	pvr := readFile(t, "jws-voucher/pvr.json")
	certs := jwsCerts(t, "pvr")
	sc, err := ParseJWS(pvr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseVoucherRequestJSON(sc.Content)
	if err != nil {
		t.Fatal(err)
	}
	regCert, err := x509.ParseCertificate(r.ProximityRegistrarCert)
	if err != nil {
		t.Fatal(err)
	}
	check := PledgeRequestCheck{
		PeerCert:          certs[0],
		RegistrarCert:     regCert,
		ManufacturerRoots: poolOf(certs[1]),
		At:                jwsAt,
		Format:            FormatJWS,
	}
	got, err := CheckPledgeRequest(pvr, check)
	if assertionGap(t, err) {
		got = &PledgeRequest{Request: r}
	} else if err != nil {
		t.Fatal(err)
	}
	if got.Request.SerialNumber != "kit-987654321" || got.Request.Nonce != "TauvK+Y/cc2RfIFvpZzfKQ==" {
		t.Errorf("request %+v", got.Request)
	}
	// The MASA's manufacturer anchor is not the registrar's domain one.
	bad := check
	bad.ManufacturerRoots = poolOf(jwsCerts(t, "rvr")[1])
	_, err = CheckPledgeRequest(pvr, bad)
	wantCode(t, err, ErrUntrusted)
	// As CMS it is no CMS.
	bad = check
	bad.Format = FormatCMS
	_, err = CheckPledgeRequest(pvr, bad)
	wantCode(t, err, ErrMalformed)
}

func TestJWSExampleRegistrarRequest(t *testing.T) {
	rvr := readFile(t, "jws-voucher/rvr.json")
	reg := jwsCerts(t, "rvr")
	mfg := jwsCerts(t, "pvr")
	got, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{
		DomainRoots:       poolOf(reg[1]),
		ManufacturerRoots: poolOf(mfg[1]),
		At:                jwsAt,
		Format:            FormatJWS,
	})
	if assertionGap(t, err) {
		// Signature, chain and cmcRA passed; the leaf rules stopped the
		// check before the prior: verify that as the MASA would.
		sc, _ := ParseJWS(rvr)
		r, _ := ParseVoucherRequestJSON(sc.Content)
		psc, err := VerifyAs(FormatJWS, r.PriorSignedVoucherRequest, VerifyOptions{Roots: poolOf(mfg[1]), At: jwsAt})
		if err != nil {
			t.Fatal(err)
		}
		if !sameIDevIDIssuer(mustIssuer(t, psc.Signer), r.IDevIDIssuer) {
			t.Error("idevid-issuer is not the prior signer's")
		}
		return
	} else if err != nil {
		t.Fatal(err)
	}
	if got.IDevID.Subject.SerialNumber != "kit-987654321" || got.Prior == nil || !strings.Contains(got.DomainCert.Subject.CommonName, "MySiteCA") {
		t.Errorf("accepted %+v", got)
	}
	// The prior, the draft's PVR, byte for byte.
	sc, _ := ParseJWS(rvr)
	r, _ := ParseVoucherRequestJSON(sc.Content)
	if p, err := ParseJWS(r.PriorSignedVoucherRequest); err != nil || len(p.Certificates) != 1 {
		t.Errorf("prior: %v", err)
	}
}

func TestJWSExampleVoucher(t *testing.T) {
	vj := readFile(t, "jws-voucher/voucher.json")
	certs := jwsCerts(t, "voucher")
	check := VoucherCheck{
		ManufacturerRoots: poolOf(certs[1]),
		SerialNumber:      "kit-987654321",
		Nonce:             "TauvK+Y/cc2RfIFvpZzfKQ==",
		At:                jwsAt,
		Format:            FormatJWS,
	}
	got, err := CheckVoucher(vj, check)
	if err != nil {
		t.Fatal(err)
	}
	if got.PinnedDomainCert == nil || got.PinnedDomainCert.Subject.CommonName != "MySiteCA" || got.Signer.Subject.CommonName != "Manufacturer Voucher Signing Key" {
		t.Errorf("accepted %+v", got)
	}
	// A pledge without a clock judges at created-on (2024-11-29).
	clockless := check
	clockless.At = time.Time{}
	if _, err := CheckVoucher(vj, clockless); err != nil {
		t.Fatal(err)
	}
	bad := check
	bad.ManufacturerRoots = poolOf(jwsCerts(t, "rvr")[1])
	_, err = CheckVoucher(vj, bad)
	wantCode(t, err, ErrUntrusted)
	bad = check
	bad.SerialNumber = "kit-1"
	_, err = CheckVoucher(vj, bad)
	wantCode(t, err, ErrSerialMismatch)
}

func mustIssuer(t *testing.T, c *x509.Certificate) []byte {
	t.Helper()
	b, err := IDevIDIssuer(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
