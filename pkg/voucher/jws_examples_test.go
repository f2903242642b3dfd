package voucher

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"net/http"
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
	// The draft's PVR has no assertion (RFC 8995 3.4: mandatory false).
	got, err := CheckPledgeRequest(pvr, check)
	if err != nil {
		t.Fatal(err)
	}
	if got.Request.Assertion != "" {
		t.Errorf("assertion %q", got.Request.Assertion)
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
	// The leaf rules pass now (no assertion, RFC 8995 3.4); what stops
	// the draft's RVR is RFC 8995 5.5.5 as Landfall applies it: the PVR
	// pins the registrar's TLS certificate (CN=MySiteRegistrar) while the
	// RVR is signed by a separate "Registrar Voucher Request Signing Key"
	// of the same CA, so proximity-registrar-cert is not the RVR signer.
	_, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{
		DomainRoots:       poolOf(reg[1]),
		ManufacturerRoots: poolOf(mfg[1]),
		At:                jwsAt,
		Format:            FormatJWS,
	})
	wantOutcome(t, err, ErrProximityMismatch, http.StatusForbidden)
	// Everything before that check held: signature, chain, cmcRA, the
	// registrar-request leaf rules and the prior as a pledge request.
	sc, err := ParseJWS(rvr)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseVoucherRequestJSON(sc.Content)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ValidateRegistrarRequest(false); err != nil {
		t.Fatalf("the draft's RVR as a registrar request: %v", err)
	}
	if r.Assertion != "" || r.SerialNumber != "kit-987654321" {
		t.Errorf("rvr %+v", r.Artifact)
	}
	psc, err := VerifyAs(FormatJWS, r.PriorSignedVoucherRequest, VerifyOptions{Roots: poolOf(mfg[1]), At: jwsAt})
	if err != nil {
		t.Fatal(err)
	}
	prior, err := psc.ParseVoucherRequest()
	if err != nil {
		t.Fatal(err)
	}
	if err := prior.ValidatePledgeRequest(); err != nil {
		t.Fatalf("prior: %v", err)
	}
	if prior.Nonce != r.Nonce || prior.SerialNumber != r.SerialNumber {
		t.Errorf("prior %+v, rvr %+v", prior.Artifact, r.Artifact)
	}
	if !sameIDevIDIssuer(mustIssuer(t, psc.Signer), r.IDevIDIssuer) {
		t.Error("idevid-issuer is not the prior signer's")
	}
	// The prior, the draft's PVR, byte for byte.
	if p, err := ParseJWS(r.PriorSignedVoucherRequest); err != nil || len(p.Certificates) != 1 {
		t.Errorf("prior: %v", err)
	}
	pinned, err := x509.ParseCertificate(prior.ProximityRegistrarCert)
	if err != nil {
		t.Fatal(err)
	}
	if pinned.Subject.CommonName != "MySiteRegistrar" || bytes.Equal(pinned.Raw, reg[0].Raw) {
		t.Errorf("pinned %q", pinned.Subject)
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
