package voucher

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
)

// onCurve192 returns cert (a P-256 certificate issued by caKey, a P-256
// key) re-issued with its key's namedCurve changed to prime192v1
// (1.2.840.10045.3.1.1), a curve crypto/x509 does not implement, as
// another CA's software may issue a registrar certificate. The OID has
// the length of prime256v1's and the signature is redrawn until it has
// the original's length, so the result has cert's length and can replace
// it byte for byte in a signed object.
func onCurve192(t *testing.T, cert *x509.Certificate, caKey *ecdsa.PrivateKey) []byte {
	t.Helper()
	p256 := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	p192 := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01}
	spki := bytes.Replace(cert.RawSubjectPublicKeyInfo, p256, p192, 1)
	if bytes.Equal(spki, cert.RawSubjectPublicKeyInfo) {
		t.Fatal("not a P-256 key")
	}
	tbs := bytes.Replace(cert.RawTBSCertificate, cert.RawSubjectPublicKeyInfo, spki, 1)
	var outer struct {
		TBS asn1.RawValue
		Alg asn1.RawValue
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.Raw, &outer); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tbs)
	for range 1000 {
		sig, err := ecdsa.SignASN1(rand.Reader, caKey, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != len(outer.Sig.Bytes) {
			continue
		}
		outer.TBS = asn1.RawValue{FullBytes: tbs}
		outer.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
		der, err := asn1.Marshal(outer)
		if err != nil {
			t.Fatal(err)
		}
		if len(der) != len(cert.Raw) {
			t.Fatalf("length %d, want %d", len(der), len(cert.Raw))
		}
		return der
	}
	t.Fatal("no signature of the right length")
	return nil
}

// A registrar whose certificate has a key on a curve Landfall does not
// support is refused as unsupported-algorithm (400), not as malformed, in
// each format, at the MASA (and a pledge request signed so at the
// registrar).
func TestUnsupportedCurve(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	odd := onCurve192(t, p.registrar, p.domainKey.(*ecdsa.PrivateKey))
	if _, err := x509.ParseCertificate(odd); err == nil {
		t.Fatal("crypto/x509 parses prime192v1 now: the test needs another curve")
	}
	oddIDevID := onCurve192(t, p.idevid, p.mfgKey.(*ecdsa.PrivateKey))
	for _, f := range []Format{FormatCMS, FormatJWS, FormatCOSE} {
		t.Run(f.String(), func(t *testing.T) {
			pr := &VoucherRequest{Artifact: Artifact{Assertion: AssertionProximity, SerialNumber: p.serial, Nonce: "bm9uY2U"}, ProximityRegistrarCert: p.registrar.Raw}
			pvr, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequestAs(f, pr)
			if err != nil {
				t.Fatal(err)
			}
			rreq, err := NewRegistrarRequest(pvr, pr, p.idevid, p.now)
			if err != nil {
				t.Fatal(err)
			}
			rvr, err := registrarSigner(p, f).SignVoucherRequestAs(f, rreq)
			if err != nil {
				t.Fatal(err)
			}
			check := RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(p.mfgCA), At: p.now, Format: f}
			if _, err := CheckRegistrarRequest(rvr, check); err != nil {
				t.Fatalf("unmodified: %v", err)
			}
			bad := swapCert(t, f, rvr, p.registrar.Raw, odd)
			_, err = CheckRegistrarRequest(bad, check)
			wantOutcome(t, err, ErrUnsupportedAlgorithm, http.StatusBadRequest)

			if f == FormatCOSE {
				return // a COSE pledge request carries no certificate
			}
			badPVR := swapCert(t, f, pvr, p.idevid.Raw, oddIDevID)
			_, err = CheckPledgeRequest(badPVR, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, At: p.now, Format: f})
			wantOutcome(t, err, ErrUnsupportedAlgorithm, http.StatusBadRequest)
			// What stays malformed: a certificate that is not one.
			junk := append([]byte(nil), odd...)
			junk[len(junk)/3] ^= 0xff
			_, err = CheckRegistrarRequest(swapCert(t, f, rvr, p.registrar.Raw, junk), check)
			wantCode(t, err, ErrMalformed)
		})
	}
}

// swapCert replaces the certificate from with to, of the same length, in
// a signed object of format f.
func swapCert(t *testing.T, f Format, signed, from, to []byte) []byte {
	t.Helper()
	if f == FormatJWS {
		// x5c is in the protected header: the signature no longer
		// covers it, but the certificate is judged before the signature.
		var jws struct {
			Payload    string `json:"payload"`
			Signatures []struct {
				Protected string `json:"protected"`
				Signature string `json:"signature"`
			} `json:"signatures"`
		}
		if err := json.Unmarshal(signed, &jws); err != nil || len(jws.Signatures) != 1 {
			t.Fatalf("jws: %v", err)
		}
		hdr, err := base64.RawURLEncoding.DecodeString(jws.Signatures[0].Protected)
		if err != nil {
			t.Fatal(err)
		}
		b64 := func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }
		newHdr := bytes.Replace(hdr, b64(from), b64(to), 1)
		if bytes.Equal(newHdr, hdr) {
			t.Fatal("jws: certificate not found")
		}
		jws.Signatures[0].Protected = base64.RawURLEncoding.EncodeToString(newHdr)
		out, _ := json.Marshal(jws)
		return out
	}
	out := bytes.Replace(signed, from, to, 1)
	if bytes.Equal(out, signed) {
		t.Fatalf("%s: certificate not found", f)
	}
	return out
}
