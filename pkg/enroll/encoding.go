package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"

	"github.com/smallstep/pkcs7"
)

// Media types of RFC 7030 section 3.2.4 and RFC 8951.
const (
	MediaTypePKCS10    = "application/pkcs10"
	MediaTypeCertsOnly = "application/pkcs7-mime; smime-type=certs-only"
	MediaTypeCSRAttrs  = "application/csrattrs"
	MediaTypePKCS8     = "application/pkcs8"
)

var (
	errEmptyBody = errors.New("empty body")
	errNotDER    = errors.New("not a single DER element")
)

// DecodeBody returns the DER bytes carried by an EST request or response
// body. RFC 8951 section 3 makes base64 (RFC 4648 section 4) the HTTP
// encoding and drops Content-Transfer-Encoding; RFC 7030 over CoAP
// (RFC 9148) and the OSCORE mode carry raw DER. This decoder accepts all of
// them without being told which:
//
//   - raw DER: one complete ASN.1 element with nothing after it;
//   - PEM: any "-----BEGIN ...-----" block (some pledges send files as-is);
//   - base64: the standard alphabet, white space (line breaks) anywhere,
//     padding optional.
//
// DER is tried first; base64 text cannot be a complete DER element because
// its first byte would need to be 0x30 ('0') followed by a length byte that
// matches the remaining text exactly and contents that nest correctly.
func DecodeBody(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmptyBody
	}
	if isDER(body) {
		return body, nil
	}
	trimmed := bytes.TrimSpace(body)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		blk, _ := pem.Decode(trimmed)
		if blk == nil {
			return nil, errors.New("malformed PEM")
		}
		if !isDER(blk.Bytes) {
			return nil, errNotDER
		}
		return blk.Bytes, nil
	}
	der, err := decodeBase64Lenient(body)
	if err != nil {
		return nil, err
	}
	if !isDER(der) {
		return nil, errNotDER
	}
	return der, nil
}

// isDER reports whether b is exactly one ASN.1 element whose outer tag is a
// constructed SEQUENCE (every EST payload is one).
func isDER(b []byte) bool {
	if len(b) < 2 || b[0] != 0x30 {
		return false
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	return err == nil && len(rest) == 0
}

// decodeBase64Lenient strips white space and decodes standard base64 with or
// without padding.
func decodeBase64Lenient(b []byte) ([]byte, error) {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n', '\v', '\f':
			continue
		}
		clean = append(clean, c)
	}
	clean = bytes.TrimRight(clean, "=")
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(out, clean)
	if err != nil {
		return nil, fmt.Errorf("bad base64: %w", err)
	}
	return out[:n], nil
}

// encodeBase64Lines encodes der as base64 in 64-character lines, the layout
// of PEM bodies, so that the response can be wrapped in PEM armour or fed to
// tools that read line-wrapped base64 (RFC 8951 section 3 allows line breaks).
func encodeBase64Lines(der []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(der)
	var out bytes.Buffer
	out.Grow(len(enc) + len(enc)/64 + 2)
	for len(enc) > 64 {
		out.WriteString(enc[:64])
		out.WriteString("\r\n")
		enc = enc[64:]
	}
	out.WriteString(enc)
	out.WriteString("\r\n")
	return out.Bytes()
}

// EncodeCertsOnly returns the DER of a degenerate CMS SignedData holding
// certs in order (RFC 7030 section 4.1.3, "certs-only": no signers, no
// content).
func EncodeCertsOnly(certs []*x509.Certificate) ([]byte, error) {
	if len(certs) == 0 {
		return nil, errors.New("certs-only: no certificates")
	}
	var raw []byte
	for _, c := range certs {
		raw = append(raw, c.Raw...)
	}
	return pkcs7.DegenerateCertificate(raw)
}

// ParseCertsOnly parses a certs-only response body (base64, PEM or DER, see
// DecodeBody) and returns its certificates in the order they appear.
func ParseCertsOnly(body []byte) ([]*x509.Certificate, error) {
	der, err := DecodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("certs-only: %w", err)
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("certs-only: %w", err)
	}
	if len(p7.Certificates) == 0 {
		return nil, errors.New("certs-only: no certificates")
	}
	return p7.Certificates, nil
}

// ParseCSR decodes and parses a PKCS#10 request body (RFC 7030 section
// 4.2.1) and checks its self-signature (proof of possession, RFC 2986).
func ParseCSR(body []byte) (*x509.CertificateRequest, error) {
	der, err := DecodeBody(body)
	if err != nil {
		return nil, newError(http.StatusBadRequest, err, "malformed request body: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, newError(http.StatusBadRequest, err, "malformed PKCS#10 request")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, newError(http.StatusBadRequest, err, "CSR signature invalid")
	}
	return csr, nil
}

type binaryKey struct{}

// WithBinary marks ctx so that responses are sent as raw DER instead of
// base64. The OSCORE binding sets it: RFC 9148 carries EST payloads binary.
func WithBinary(ctx context.Context) context.Context {
	return context.WithValue(ctx, binaryKey{}, true)
}

func binaryFromContext(ctx context.Context) bool {
	b, _ := ctx.Value(binaryKey{}).(bool)
	return b
}
