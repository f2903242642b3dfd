package voucher

import (
	"bytes"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// asn1Children splits the contents of a constructed DER value.
func asn1Children(t *testing.T, b []byte) []asn1.RawValue {
	t.Helper()
	var out []asn1.RawValue
	for len(b) > 0 {
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(b, &rv)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rv)
		b = rest
	}
	return out
}

// asn1Rebuild re-encodes the constructed value like with children.
func asn1Rebuild(t *testing.T, like asn1.RawValue, children []asn1.RawValue) []byte {
	t.Helper()
	var content []byte
	for _, c := range children {
		content = append(content, c.FullBytes...)
	}
	der, err := asn1.Marshal(asn1.RawValue{Class: like.Class, Tag: like.Tag, IsCompound: true, Bytes: content})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// withSignatureAlgorithm re-encodes CMS SignedData der with its one
// SignerInfo's signatureAlgorithm replaced by oid (no parameters), every
// length above it recomputed: ContentInfo { contentType, [0] SignedData {
// ..., signerInfos SET { SignerInfo { version, sid, digestAlgorithm,
// [0] signedAttrs, signatureAlgorithm, signature } } } }.
func withSignatureAlgorithm(t *testing.T, der []byte, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	var ci asn1.RawValue
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatal(err)
	}
	ciKids := asn1Children(t, ci.Bytes)
	explicit := ciKids[1]
	sd := asn1Children(t, explicit.Bytes)[0]
	sdKids := asn1Children(t, sd.Bytes)
	sis := sdKids[len(sdKids)-1]
	siList := asn1Children(t, sis.Bytes)
	if len(siList) != 1 {
		t.Fatalf("%d SignerInfos", len(siList))
	}
	fields := asn1Children(t, siList[0].Bytes)
	if fields[3].Class != asn1.ClassContextSpecific || fields[3].Tag != 0 {
		t.Fatal("SignerInfo without signedAttrs")
	}
	alg, err := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oid})
	if err != nil {
		t.Fatal(err)
	}
	fields[4] = asn1.RawValue{FullBytes: alg}
	siList[0] = asn1.RawValue{FullBytes: asn1Rebuild(t, siList[0], fields)}
	sdKids[len(sdKids)-1] = asn1.RawValue{FullBytes: asn1Rebuild(t, sis, siList)}
	newSD := asn1Rebuild(t, sd, sdKids)
	ciKids[1] = asn1.RawValue{FullBytes: asn1Rebuild(t, explicit, []asn1.RawValue{{FullBytes: newSD}})}
	return asn1Rebuild(t, ci, ciKids)
}

// A SignerInfo naming id-ecPublicKey as its signatureAlgorithm (as some
// CMS producers write it; OpenSSL accepts it) with a valid ECDSA
// signature verifies; the same label over a bad signature, a non-EC key
// or a digest outside SHA-2 is refused with that reason.
func TestECPublicKeySignatureAlgorithm(t *testing.T) {
	for _, cv := range curves {
		t.Run(cv.name, func(t *testing.T) {
			p := newPKI(t, cv.curve)
			good := p.voucher(t, "n1", nil)
			relabelled := withSignatureAlgorithm(t, good, oidECPublicKey)
			if bytes.Equal(relabelled, good) || len(relabelled) >= len(good) {
				t.Fatalf("re-encoding: %d bytes from %d", len(relabelled), len(good))
			}
			sc, err := ParseSigned(relabelled)
			if err != nil {
				t.Fatal(err)
			}
			if !sc.p7.Signers[0].DigestEncryptionAlgorithm.Algorithm.Equal(oidECPublicKey) {
				t.Fatal("signatureAlgorithm not id-ecPublicKey")
			}
			got, err := CheckVoucher(relabelled, p.voucherCheck("n1"))
			if err != nil {
				t.Fatalf("id-ecPublicKey SignerInfo refused: %v", err)
			}
			if got.Voucher.SerialNumber != p.serial {
				t.Errorf("voucher %+v", got.Voucher)
			}
			if _, err := exec.LookPath("openssl"); err == nil {
				dir := t.TempDir()
				opensslVerify(t, dir, relabelled, []string{"-CAfile", writePEM(t, dir, "ca.pem", p.mfgCA), "-purpose", "any"})
			}

			// The real reason otherwise: a signature that does not verify...
			tampered := bytes.Replace(relabelled, []byte(p.serial), []byte("LF-0002"), 1)
			_, err = CheckVoucher(tampered, p.voucherCheck("n1"))
			wantOutcome(t, err, ErrBadSignature, http.StatusForbidden)
			// ...and an algorithm pkcs7 does not know is unsupported, not
			// a bad signature.
			_, err = CheckVoucher(withSignatureAlgorithm(t, good, asn1.ObjectIdentifier{1, 2, 3, 4}), p.voucherCheck("n1"))
			wantOutcome(t, err, ErrUnsupportedAlgorithm, http.StatusBadRequest)
		})
	}

	// id-ecPublicKey over an RSA signer's signature.
	p := newPKI(t, elliptic.P256())
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaMASA := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "RSA MASA"}, NotBefore: p.now.Add(-time.Hour), NotAfter: p.now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature},
		p.mfgCA, rk.Public(), p.mfgKey)
	v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "n1", PinnedDomainCert: p.domainCA.Raw}}
	rsaDER, err := (&Signer{Cert: rsaMASA, Key: rk}).SignVoucher(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckVoucher(rsaDER, p.voucherCheck("n1")); err != nil {
		t.Fatalf("RSA voucher as signed: %v", err)
	}
	_, err = CheckVoucher(withSignatureAlgorithm(t, rsaDER, oidECPublicKey), p.voucherCheck("n1"))
	e := wantCode(t, err, ErrUnsupportedAlgorithm)
	if e != nil && !bytes.Contains([]byte(e.Reason), []byte("RSA")) {
		t.Errorf("reason %q", e.Reason)
	}
}
