package voucher

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/smallstep/pkcs7"

	"github.com/landfall-io/landfall/pkg/voucher/vouchertest"
)

// An attacker's SignedData: the signer signs the content directly, with no
// signedAttrs. RFC 5652 5.3 allows that only for id-data; for
// id-ct-animaJSONVoucher (and any other content type) every role refuses
// it with ErrNoSignedAttributes and status 400.
func TestSignedAttributesRequiredUnlessIDData(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	pledgeCMS, pledge := p.pledgeRequest(t, "nonce-1")
	rr, err := NewRegistrarRequest(pledgeCMS, pledge, p.idevid, p.now)
	if err != nil {
		t.Fatal(err)
	}
	rrJSON, _ := rr.MarshalJSON()
	bare := func(t *testing.T, ct asn1.ObjectIdentifier) []byte {
		t.Helper()
		der, err := vouchertest.SignWithoutSignedAttributes(rrJSON, ct, p.registrar, p.registrarKey, p.domainCA)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	check := RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), DomainRoots: poolOf(p.domainCA), At: p.now}

	t.Run("animaJSONVoucher without signed attributes", func(t *testing.T) {
		der := bare(t, OIDAnimaJSONVoucher)
		// The bytes are a well-formed CMS whose signature verifies the way
		// RFC 5652 5.4 defines it without attributes: smallstep/pkcs7
		// alone accepts them.
		p7, err := pkcs7.Parse(der)
		if err != nil || len(p7.Signers) != 1 || len(p7.Signers[0].AuthenticatedAttributes) != 0 {
			t.Fatalf("attacker CMS: %v", err)
		}
		if err := p7.VerifyWithChainAtTime(nil, p.now); err != nil {
			t.Fatalf("the signature itself does not verify: %v", err)
		}
		for name, run := range map[string]func() error{
			"ParseSigned": func() error { _, err := ParseSigned(der); return err },
			"Verify":      func() error { _, err := Verify(der, VerifyOptions{Roots: poolOf(p.domainCA), At: p.now}); return err },
			"CheckRegistrarRequest": func() error {
				_, err := CheckRegistrarRequest(der, check)
				return err
			},
		} {
			e := wantCode(t, run(), ErrNoSignedAttributes)
			if e.StatusCode() != http.StatusBadRequest || !strings.Contains(e.Error(), "RFC 5652 5.3") ||
				!strings.Contains(e.Error(), OIDAnimaJSONVoucher.String()) {
				t.Errorf("%s: %d %v", name, e.StatusCode(), e)
			}
		}
	})

	t.Run("prior-signed-voucher-request without signed attributes", func(t *testing.T) {
		prJSON, _ := pledge.MarshalJSON()
		barePrior, err := vouchertest.SignWithoutSignedAttributes(prJSON, OIDAnimaJSONVoucher, p.idevid, p.idevidKey)
		if err != nil {
			t.Fatal(err)
		}
		outer, err := NewRegistrarRequest(barePrior, pledge, p.idevid, p.now)
		if err != nil {
			t.Fatal(err)
		}
		der, err := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).SignVoucherRequest(outer)
		if err != nil {
			t.Fatal(err)
		}
		_, err = CheckRegistrarRequest(der, check)
		e := wantCode(t, err, ErrNoSignedAttributes)
		if e.StatusCode() != http.StatusBadRequest || !strings.HasPrefix(e.Reason, leafPriorSignedVoucherRequest) {
			t.Errorf("%d %v", e.StatusCode(), e)
		}
	})

	t.Run("voucher without signed attributes", func(t *testing.T) {
		v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "n", PinnedDomainCert: p.domainCA.Raw}}
		js, _ := v.MarshalJSON()
		der, err := vouchertest.SignWithoutSignedAttributes(js, OIDAnimaJSONVoucher, p.masa, p.masaKey)
		if err != nil {
			t.Fatal(err)
		}
		_, err = CheckVoucher(der, p.voucherCheck("n"))
		wantCode(t, err, ErrNoSignedAttributes)
	})

	t.Run("id-data without signed attributes stays acceptable", func(t *testing.T) {
		// RFC 5652 5.3 makes signedAttrs optional for id-data: the
		// signature then covers the content, which is what is checked.
		if _, err := CheckRegistrarRequest(bare(t, OIDData), check); err != nil {
			t.Fatalf("id-data without attributes: %v", err)
		}
	})
}

// Landfall's own signer always writes the signed attributes RFC 5652 5.3
// requires (content-type equal to eContentType, message-digest), plus
// signing-time, for either content type.
func TestSignerWritesSignedAttributes(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	for _, ct := range []asn1.ObjectIdentifier{nil, OIDAnimaJSONVoucher, OIDData} {
		der, err := (&Signer{Cert: p.registrar, Key: p.registrarKey, ContentType: ct}).Sign([]byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		p7, err := pkcs7.Parse(der)
		if err != nil {
			t.Fatal(err)
		}
		want := ct
		if want == nil {
			want = OIDAnimaJSONVoucher
		}
		var got asn1.ObjectIdentifier
		var digest []byte
		if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeContentType, &got); err != nil || !got.Equal(want) {
			t.Errorf("%v: content-type attribute %v, %v", ct, got, err)
		}
		if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeMessageDigest, &digest); err != nil || len(digest) != 32 {
			t.Errorf("%v: message-digest attribute %x, %v", ct, digest, err)
		}
		if len(p7.Signers[0].AuthenticatedAttributes) != 3 {
			t.Errorf("%v: %d signed attributes, want 3", ct, len(p7.Signers[0].AuthenticatedAttributes))
		}
	}
}

// OpenSSL, an independent CMS implementation, verifies the attacker's
// CMS (it does not enforce RFC 5652 5.3 on input): the bytes are
// well-formed SignedData with a correct signature, so Landfall's refusal
// above is the 5.3 rule and not a parse failure. Landfall does not depend
// on OpenSSL's behaviour here.
func TestOpenSSLOnMissingSignedAttributes(t *testing.T) {
	requireOpenSSL(t)
	p := newPKI(t, elliptic.P256())
	content := []byte(`{"x":1}`)
	der, err := vouchertest.SignWithoutSignedAttributes(content, OIDAnimaJSONVoucher, p.masa, p.masaKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := opensslVerify(t, dir, der, []string{"-CAfile", writePEM(t, dir, "ca.pem", p.mfgCA), "-purpose", "any"})
	if !bytes.Equal(out, content) {
		t.Errorf("openssl content %q", out)
	}
	printed := string(runOpenSSL(t, "cms", "-cmsout", "-inform", "DER", "-in", filepath.Join(dir, "in.der"), "-print", "-noout"))
	if !regexp.MustCompile(`signedAttrs:\s*<ABSENT>`).MatchString(printed) || !strings.Contains(printed, "(1.2.840.113549.1.9.16.1.40)") {
		t.Errorf("openssl does not see an attribute-less animaJSONVoucher SignedData:\n%s", printed)
	}
	if _, err := ParseSigned(der); !errors.Is(err, ErrNoSignedAttributes) {
		t.Errorf("Landfall: %v", err)
	}
}
