package voucher

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"net/http"
	"testing"
)

// Issue 15: idevid-issuer for an IDevID without an Authority Key
// Identifier (rfc8366bis 5.1 rule 2), on the two example IDevIDs, which
// have none: RFC 8995 Appendix C's and rfc8366bis's (examples/, the same
// device re-issued). Both carry a Subject Key Identifier that their
// issuer computed with RFC 5280 4.2.1.2 method 1, the method rfc8366bis
// names, so the keyIdentifier Landfall computes must be it.
func TestIDevIDIssuerWithoutAKIExamples(t *testing.T) {
	for _, path := range []string{"rfc8995-appendix-c/idevid_00-D0-E5-F2-00-02.crt", "rfc8366bis/00-D0-E5-F2-00-02.crt"} {
		t.Run(path, func(t *testing.T) {
			idevid := readCert(t, path)
			if len(idevid.AuthorityKeyId) != 0 {
				t.Fatal("the example has an AKI")
			}
			got, err := IDevIDIssuer(idevid)
			if err != nil {
				t.Fatal(err)
			}
			// 04 18 30 16 80 14 <20 octets>: the prefix of rfc8366bis's
			// CBOR example, h'04183016 ...'.
			if !bytes.HasPrefix(got, []byte{0x04, 0x18, 0x30, 0x16, 0x80, 0x14}) || len(got) != 26 {
				t.Fatalf("idevid-issuer %x is not the OCTET STRING of an AKI with a 20-octet keyIdentifier", got)
			}
			if want := "4588cc9696006437b0ba2365646454080 66c56ad"; hex.EncodeToString(got[6:]) != stripSpaces(want) {
				t.Errorf("keyIdentifier %x, want the IDevID's SKI %s", got[6:], want)
			}
			if !bytes.Equal(got[6:], idevid.SubjectKeyId) {
				t.Error("keyIdentifier is not the SHA-1 of the key (the SKI)")
			}
			// The registrar now sends it for such an IDevID (it left the
			// leaf out before), and the MASA accepts it.
			r, err := NewRegistrarRequest([]byte{0x30}, &VoucherRequest{Artifact: Artifact{SerialNumber: "00-D0-E5-F2-00-02", Nonce: "n"}}, idevid, rfcTime)
			if err != nil || !bytes.Equal(r.IDevIDIssuer, got) {
				t.Fatalf("registrar request idevid-issuer %x, %v", r.IDevIDIssuer, err)
			}
			if !IDevIDIssuerMatches(idevid, got) {
				t.Error("the MASA does not recognize the computed value")
			}
		})
	}
}

func stripSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

// The four encodings written in the wild for one IDevID are accepted, each
// only for that IDevID (see idevid_issuer.go): RFC 8995's issuer Name,
// RFC 8366's bare keyIdentifier, the extnValue's contents and
// rfc8366bis's extnValue OCTET STRING; Landfall emits the last.
func TestIDevIDIssuerEncodingsAccepted(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	other := newPKI(t, elliptic.P256())
	var extnValue []byte
	for _, e := range p.idevid.Extensions {
		if e.Id.Equal(oidAuthorityKeyID) {
			extnValue = e.Value
		}
	}
	wrapped, _ := asn1.Marshal(extnValue)
	forms := func(c *x509.Certificate) map[string][]byte {
		var ev []byte
		for _, e := range c.Extensions {
			if e.Id.Equal(oidAuthorityKeyID) {
				ev = e.Value
			}
		}
		w, _ := asn1.Marshal(ev)
		return map[string][]byte{
			"RFC 8995 issuer Name":        c.RawIssuer,
			"RFC 8366 keyIdentifier":      c.AuthorityKeyId,
			"extnValue contents":          ev,
			"rfc8366bis extnValue OCTETS": w,
		}
	}
	emitted, _ := IDevIDIssuer(p.idevid)
	if !bytes.Equal(emitted, wrapped) {
		t.Fatalf("emitted %x, want rfc8366bis's %x", emitted, wrapped)
	}
	for name, b := range forms(p.idevid) {
		if !IDevIDIssuerMatches(p.idevid, b) {
			t.Errorf("%s %x refused", name, b)
		}
		if name != "RFC 8995 issuer Name" && !sameIDevIDIssuer(emitted, b) {
			t.Errorf("%s: not the same issuer as the emitted form", name)
		}
	}
	// other's manufacturer CA has the same Name: only the key forms tell
	// them apart, and they do.
	for name, b := range forms(other.idevid) {
		if name == "RFC 8995 issuer Name" {
			continue
		}
		if IDevIDIssuerMatches(p.idevid, b) {
			t.Errorf("another manufacturer's %s accepted", name)
		}
	}
	if IDevIDIssuerMatches(readCert(t, "rfc8995-appendix-c/idevid_00-D0-E5-F2-00-02.crt"), p.idevid.RawIssuer) {
		t.Error("another issuer Name accepted")
	}

	// The MASA's check, as the registrar writes each form.
	pledge, _ := p.pledgeRequest(t, "n")
	for name, b := range forms(p.idevid) {
		rvr := p.registrarRequest(t, pledge, func(r *VoucherRequest) { r.IDevIDIssuer = b })
		if _, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), At: p.now}); err != nil {
			t.Errorf("MASA refused %s: %v", name, err)
		}
	}
	for name, b := range forms(other.idevid) {
		if name == "RFC 8995 issuer Name" {
			continue
		}
		rvr := p.registrarRequest(t, pledge, func(r *VoucherRequest) { r.IDevIDIssuer = b })
		_, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
		wantOutcome(t, err, ErrPriorMismatch, http.StatusForbidden)
	}

	// The pledge compares what it was told with what the voucher says,
	// whatever either's encoding.
	for name, b := range forms(p.idevid) {
		if name == "RFC 8995 issuer Name" {
			continue
		}
		vb := p.voucher(t, "n1", func(v *Voucher) { v.IDevIDIssuer = b })
		c := p.voucherCheck("n1")
		c.IDevIDIssuer = emitted
		if _, err := CheckVoucher(vb, c); err != nil {
			t.Errorf("pledge refused a voucher with the %s form: %v", name, err)
		}
	}
	vb := p.voucher(t, "n1", func(v *Voucher) { v.IDevIDIssuer = forms(other.idevid)["rfc8366bis extnValue OCTETS"] })
	c := p.voucherCheck("n1")
	c.IDevIDIssuer = emitted
	_, err := CheckVoucher(vb, c)
	wantCode(t, err, ErrSerialMismatch)
}
