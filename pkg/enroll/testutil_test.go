package enroll

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net/http/httptest"
	"testing"

	"crypto/x509/pkix"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
func bigOne() *big.Int                        { return big.NewInt(1) }
func randReader() io.Reader                   { return rand.Reader }
func errorsJoinWrap(err error) error          { return fmt.Errorf("wrapped: %w", err) }

var rsaKeyCache crypto.Signer

func mustRSAKey(t testing.TB) crypto.Signer {
	t.Helper()
	if rsaKeyCache == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKeyCache = k
	}
	return rsaKeyCache
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addAttributeForTest re-signs csr with an extra attribute whose value is
// an empty SEQUENCE.
func addAttributeForTest(t testing.TB, der []byte, oid asn1.ObjectIdentifier, key crypto.Signer) []byte {
	t.Helper()
	var outer struct {
		TBS    asn1.RawValue
		Alg    pkix.AlgorithmIdentifier
		SigVal asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		t.Fatal(err)
	}
	var tbs struct {
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes []asn1.RawValue `asn1:"tag:0"`
	}
	if _, err := asn1.Unmarshal(outer.TBS.FullBytes, &tbs); err != nil {
		t.Fatal(err)
	}
	attr := mustMarshal(t, attribute{Type: oid, Values: []asn1.RawValue{{FullBytes: []byte{0x30, 0}}}})
	tbs.Attributes = append(tbs.Attributes, asn1.RawValue{FullBytes: attr})
	tbsDER := mustMarshal(t, tbs)
	h := crypto.SHA256.New()
	h.Write(tbsDER)
	sig, err := key.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	outer.TBS = asn1.RawValue{FullBytes: tbsDER}
	outer.SigVal = asn1.BitString{Bytes: sig, BitLength: len(sig) * 8}
	return mustMarshal(t, outer)
}

func pkixName(serial string) pkix.Name { return pkix.Name{SerialNumber: serial} }

// multipartPart returns the body of the first part of type want.
func multipartPart(t testing.TB, contentType string, body []byte, want string) []byte {
	t.Helper()
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no %s part: %v", want, err)
		}
		mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if mt == want {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func mustEd25519(t testing.TB) crypto.Signer {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustParseCSRT(t testing.TB, der []byte) *x509.CertificateRequest {
	t.Helper()
	c, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
