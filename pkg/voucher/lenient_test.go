package voucher

import (
	"bytes"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Issue 15, "Too strict where the RFCs are lenient": what RFC 8995 lets the
// other side leave out or put in, as the other side writes it.

// RFC 8995 section 3.3, Examples 2 and 3, verbatim: the registrar
// voucher-request of an online registrar, and the one of a registrar
// asking for a voucher while the pledge is offline (no nonce, no prior,
// no assertion).
const (
	rfc8995Example2 = `{
   "ietf-voucher-request:voucher": {
       "assertion" : "proximity",
       "nonce": "62a2e7693d82fcda2624de58fb6722e5",
       "created-on": "2017-01-01T00:00:02.000Z",
       "idevid-issuer": "base64encodedvalue==",
       "serial-number": "JADA123456789",
       "prior-signed-voucher-request": "base64encodedvalue=="
   }
}`
	rfc8995Example3 = `{
   "ietf-voucher-request:voucher": {
       "created-on": "2017-01-01T00:00:02.000Z",
       "idevid-issuer": "base64encodedvalue==",
       "serial-number": "JADA123456789"
   }
}`
)

func TestRFC8995ExampleRegistrarRequests(t *testing.T) {
	r, err := ParseVoucherRequestJSON([]byte(rfc8995Example3))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ValidateRegistrarRequest(true); err != nil {
		t.Fatalf("Example 3 (offline, no nonce, no assertion): %v", err)
	}
	if r.Assertion != "" || r.Nonce != "" || r.SerialNumber != "JADA123456789" || r.CreatedOn.IsZero() {
		t.Errorf("Example 3: %+v", r.Artifact)
	}
	// Without a prior it is still only a request the registrar makes on
	// its own.
	wantCode(t, r.ValidateRegistrarRequest(false), ErrMissingLeaf)

	r, err = ParseVoucherRequestJSON([]byte(rfc8995Example2))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ValidateRegistrarRequest(false); err != nil || r.Assertion != AssertionProximity {
		t.Fatalf("Example 2: %v %+v", err, r.Artifact)
	}
}

// rvrJSON writes a registrar voucher-request by hand, leaf by leaf, as
// another implementation would: extra is spliced in verbatim.
func rvrJSON(serial, nonce string, prior []byte, extra string) []byte {
	s := `{"ietf-voucher-request:voucher":{"serial-number":` + fmt.Sprintf("%q", serial)
	if nonce != "" {
		s += `,"nonce":` + fmt.Sprintf("%q", nonce)
	}
	if prior != nil {
		s += `,"prior-signed-voucher-request":"` + base64.StdEncoding.EncodeToString(prior) + `"`
	}
	return []byte(s + extra + "}}")
}

// A registrar voucher-request without assertion or created-on, and a
// pledge request without them, verify in every format; a voucher still
// needs its assertion (RFC 8366).
func TestRequestsWithoutAssertionOrCreatedOn(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	reg := &Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}
	check := RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(p.mfgCA), At: p.now}

	// RFC 8995 Example 3 as a real registrar signs it, with and without
	// created-on.
	issuer := base64.StdEncoding.EncodeToString(mustIssuer(t, p.idevid))
	for _, extra := range []string{`,"created-on":"` + formatDateTime(p.now) + `","idevid-issuer":"` + issuer + `"`, ``} {
		der, err := reg.Sign(rvrJSON(p.serial, "", nil, extra))
		if err != nil {
			t.Fatal(err)
		}
		c := check
		c.AllowNoPrior = true
		rr, err := CheckRegistrarRequest(der, c)
		if err != nil {
			t.Fatalf("offline request %q: %v", extra, err)
		}
		if rr.Prior != nil || rr.Request.Assertion != "" || !bytes.Equal(rr.DomainCert.Raw, p.domainCA.Raw) {
			t.Errorf("accepted %+v", rr.Request.Artifact)
		}
	}

	for _, f := range []Format{FormatCMS, FormatJWS, FormatCOSE} {
		t.Run(f.String(), func(t *testing.T) {
			// The pledge request of the draft-ietf-anima-jws-voucher
			// examples: no assertion, and here no created-on either.
			pr := &VoucherRequest{Artifact: Artifact{SerialNumber: p.serial, Nonce: "bm9uY2U"}, ProximityRegistrarCert: p.registrar.Raw}
			pvr, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequestAs(f, pr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := CheckPledgeRequest(pvr, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, ManufacturerRoots: poolOf(p.mfgCA), At: p.now, Format: f})
			if err != nil {
				t.Fatalf("pledge request without assertion: %v", err)
			}
			rreq, err := NewRegistrarRequest(pvr, got.Request, p.idevid, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if rreq.Assertion != "" || !rreq.CreatedOn.IsZero() {
				t.Errorf("registrar request %+v", rreq.Artifact)
			}
			rvr, err := registrarSigner(p, f).SignVoucherRequestAs(f, rreq)
			if err != nil {
				t.Fatal(err)
			}
			c := check
			c.Format = f
			rr, err := CheckRegistrarRequest(rvr, c)
			if err != nil {
				t.Fatalf("registrar request without assertion and created-on: %v", err)
			}
			if rr.Prior == nil || rr.Prior.Nonce != "bm9uY2U" || rr.Request.Assertion != "" {
				t.Errorf("accepted %+v", rr)
			}
			// The MASA chooses the voucher's assertion itself.
			v, err := NewVoucher(rr.Request, VoucherParams{Assertion: AssertionProximity, DomainCert: rr.DomainCert, CreatedOn: p.now})
			if err != nil || v.Assertion != AssertionProximity {
				t.Fatalf("voucher: %v", err)
			}
			// What stays refused: an assertion outside the enumeration,
			// and a pledge asserting anything but proximity.
			if f != FormatCOSE { // the CBOR encoder has no SID value for it
				pr.Assertion = "trusted"
				bad, _ := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequestAs(f, pr)
				_, err = CheckPledgeRequest(bad, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, At: p.now, Format: f})
				wantOutcome(t, err, ErrUnknownAssertion, http.StatusBadRequest)
			}
			pr.Assertion = AssertionLogged
			bad, _ := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequestAs(f, pr)
			_, err = CheckPledgeRequest(bad, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, At: p.now, Format: f})
			wantOutcome(t, err, ErrForbiddenLeaf, http.StatusBadRequest)
		})
	}

	// A voucher without assertion is still refused: RFC 8366 makes it
	// mandatory there.
	vb := p.voucher(t, "n1", func(v *Voucher) { v.Assertion = "" })
	_, err := CheckVoucher(vb, p.voucherCheck("n1"))
	e := wantCode(t, err, ErrMissingLeaf)
	if e != nil && e.Reason != leafAssertion {
		t.Errorf("reason %q", e.Reason)
	}
	if _, err := NewVoucher(&VoucherRequest{Artifact: Artifact{SerialNumber: "a"}}, VoucherParams{DomainCert: p.domainCA, CreatedOn: p.now}); err == nil {
		t.Error("voucher without assertion built")
	}
}

// Voucher-only leaves in a voucher-request are ignored (RFC 8995 3.4: "any
// occurrence MUST be ignored"), not refused, and nothing the MASA decides
// comes from them.
func TestVoucherOnlyLeavesInRequestsIgnored(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	other := newPKI(t, elliptic.P256())
	rogue := base64.StdEncoding.EncodeToString(other.domainCA.Raw)
	sum := sha256.Sum256(other.domainCA.RawSubjectPublicKeyInfo)
	voucherOnly := `,"pinned-domain-cert":"` + rogue + `"` +
		`,"pinned-domain-pubk":"` + base64.StdEncoding.EncodeToString(other.domainCA.RawSubjectPublicKeyInfo) + `"` +
		`,"pinned-domain-pubk-sha256":"` + base64.StdEncoding.EncodeToString(sum[:]) + `"` +
		`,"domain-cert-revocation-checks":true`

	// The pledge's request, written by hand with them.
	pvrJS := []byte(`{"ietf-voucher-request:voucher":{"assertion":"proximity","serial-number":"` + p.serial +
		`","nonce":"n1","proximity-registrar-cert":"` + base64.StdEncoding.EncodeToString(p.registrar.Raw) + `"` + voucherOnly + `}}`)
	pvr, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).Sign(pvrJS)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := CheckPledgeRequest(pvr, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
	if err != nil {
		t.Fatalf("pledge request with voucher-only leaves: %v", err)
	}
	noVoucherOnly(t, "pledge request", pr.Request)

	// The registrar's, with them too (and one malformed: ignored means
	// unread).
	for _, extra := range []string{voucherOnly, `,"pinned-domain-cert":"!!","domain-cert-revocation-checks":"yes"`} {
		rvr, err := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).Sign(rvrJSON(p.serial, "n1", pvr, extra))
		if err != nil {
			t.Fatal(err)
		}
		for _, roots := range []*x509.CertPool{poolOf(p.domainCA), nil} {
			rr, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{DomainRoots: roots, ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
			if err != nil {
				t.Fatalf("registrar request with voucher-only leaves: %v", err)
			}
			noVoucherOnly(t, "registrar request", rr.Request)
			noVoucherOnly(t, "prior", rr.Prior)
			// The MASA pins the registrar chain's anchor, never the
			// request's pin.
			if !bytes.Equal(rr.DomainCert.Raw, p.domainCA.Raw) {
				t.Fatalf("DomainCert %q, want the registrar's domain CA", rr.DomainCert.Subject)
			}
			no := false
			v, err := NewVoucher(rr.Request, VoucherParams{Assertion: AssertionProximity, DomainCert: rr.DomainCert, CreatedOn: p.now, DomainCertRevocationChecks: &no})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(v.PinnedDomainCert, p.domainCA.Raw) || v.PinnedDomainPubk != nil || v.PinnedDomainPubkSHA256 != nil || *v.DomainCertRevocationChecks {
				t.Errorf("voucher took a leaf from the request: %+v", v.Artifact)
			}
		}
	}

	// What stays refused in a request: leaves the pledge alone writes in a
	// registrar's, a registrar's in a pledge's, and unknown leaves.
	rvr, _ := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).Sign(
		rvrJSON(p.serial, "n1", pvr, `,"proximity-registrar-cert":"`+base64.StdEncoding.EncodeToString(p.registrar.Raw)+`"`))
	_, err = CheckRegistrarRequest(rvr, RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
	wantOutcome(t, err, ErrForbiddenLeaf, http.StatusBadRequest)
	rvr, _ = (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).Sign(rvrJSON(p.serial, "n1", pvr, `,"colour":"red"`))
	_, err = CheckRegistrarRequest(rvr, RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
	wantOutcome(t, err, ErrUnknownLeaf, http.StatusBadRequest)
	// The leaves are still a voucher's own: a voucher needs its pin.
	_, err = ParseVoucherJSON([]byte(`{"ietf-voucher:voucher":{"assertion":"logged","created-on":"2021-01-01T00:00:00Z","serial-number":"a","domain-cert-revocation-checks":"yes"}}`))
	wantCode(t, err, ErrMalformed)
}

// registrarSigner signs as the registrar; a JWS or COSE registrar request
// also carries the pledge's IDevID (the PVR carries none), a CMS one need
// not (the prior carries it).
func registrarSigner(p *testPKI, f Format) *Signer {
	s := &Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}
	if f != FormatCMS {
		s.Chain = append(s.Chain, p.idevid)
	}
	return s
}

func noVoucherOnly(t *testing.T, what string, r *VoucherRequest) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: none", what)
	}
	if r.PinnedDomainCert != nil || r.PinnedDomainPubk != nil || r.PinnedDomainPubkSHA256 != nil || r.DomainCertRevocationChecks != nil {
		t.Errorf("%s kept a voucher-only leaf: %+v", what, r.Artifact)
	}
}

// A registrar request without a nonce whose prior has one is a request for
// a nonceless voucher (RFC 8995 5.5, 5.5.6: the MASA checks the nonce's
// consistency only when the registrar request contains one), not a
// nonce-mismatch; a different nonce still is.
func TestRegistrarRequestWithoutNonce(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	for _, f := range []Format{FormatCMS, FormatJWS, FormatCOSE} {
		t.Run(f.String(), func(t *testing.T) {
			pr := &VoucherRequest{Artifact: Artifact{Assertion: AssertionProximity, SerialNumber: p.serial, Nonce: "bm9uY2U", CreatedOn: p.now}, ProximityRegistrarCert: p.registrar.Raw}
			pvr, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequestAs(f, pr)
			if err != nil {
				t.Fatal(err)
			}
			reg := registrarSigner(p, f)
			check := RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(p.mfgCA), At: p.now, Format: f}
			rreq, err := NewRegistrarRequest(pvr, pr, p.idevid, p.now)
			if err != nil {
				t.Fatal(err)
			}
			rreq.Nonce = ""
			rvr, err := reg.SignVoucherRequestAs(f, rreq)
			if err != nil {
				t.Fatal(err)
			}
			rr, err := CheckRegistrarRequest(rvr, check)
			if err != nil {
				t.Fatalf("registrar request without nonce: %v (want a nonceless request, not a mismatch)", err)
			}
			if rr.Request.Nonce != "" || rr.Prior.Nonce != "bm9uY2U" {
				t.Errorf("nonces %q, %q", rr.Request.Nonce, rr.Prior.Nonce)
			}
			// The voucher answering it is nonceless.
			v, err := NewVoucher(rr.Request, VoucherParams{Assertion: AssertionProximity, DomainCert: rr.DomainCert, CreatedOn: p.now, ExpiresOn: p.now.Add(time.Hour)})
			if err != nil || v.Nonce != "" {
				t.Fatalf("voucher %v %+v", err, v)
			}
			rreq.Nonce = "b3RoZXI"
			rvr, _ = reg.SignVoucherRequestAs(f, rreq)
			_, err = CheckRegistrarRequest(rvr, check)
			wantOutcome(t, err, ErrNonceMismatch, http.StatusForbidden)
		})
	}
}
