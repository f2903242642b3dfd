package enroll

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
)

// serveServerKeyGen answers POST /serverkeygen (RFC 7030 section 4.4): the
// same admission as simpleenroll, then the CA generates the key pair and
// the response is multipart/mixed with the private key (application/pkcs8,
// unencrypted: RFC 7030 section 4.4.2 allows relying on the TLS session for
// its protection) followed by the certificate (certs-only), each base64
// unless binary (with Content-Transfer-Encoding: base64 unless
// WithoutTransferEncoding). Requests for an encrypted key (DecryptKeyIdentifier or
// AsymmetricDecryptKeyIdentifier, sections 4.4.1.1-2) get 501.
func (s *Server) serveServerKeyGen(w http.ResponseWriter, r *http.Request) {
	const op = OpServerKeyGen
	e, err := s.admit(w, r, op)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	for _, oid := range []asn1.ObjectIdentifier{OIDDecryptKeyIdentifier, OIDAsymmDecryptKeyID} {
		has, err := csrHasAttribute(e.csr, oid)
		if err != nil {
			s.fail(w, r, op, newError(http.StatusBadRequest, err, "CSR attributes malformed"))
			return
		}
		if has {
			s.fail(w, r, op, newError(http.StatusNotImplemented, nil, "encrypted server-generated keys are not supported"))
			return
		}
	}
	issued, key, err := s.ca.ServerKeyGen(r.Context(), e.request())
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	certsDER, err := s.recordedCerts(r.Context(), e, issued)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		s.fail(w, r, op, err)
		return
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, part := range []struct {
		ctype string
		der   []byte
	}{{MediaTypePKCS8, keyDER}, {MediaTypeCertsOnly, certsDER}} {
		hdr := textproto.MIMEHeader{"Content-Type": {part.ctype}}
		body := part.der
		if !s.binaryFor(r) {
			body = encodeBase64Lines(part.der)
			if !s.omitCTE {
				hdr.Set(HeaderTransferEncoding, "base64")
			}
		}
		pw, err := mw.CreatePart(hdr)
		if err != nil {
			s.fail(w, r, op, err)
			return
		}
		_, _ = pw.Write(body)
	}
	_ = mw.Close()
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// GenerateKey returns a new private key of type kt.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case KeyECP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyECP521:
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case KeyEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("cannot generate key type %q", kt)
}

// ServerKeyGenWith implements CA.ServerKeyGen on top of an enroll function:
// it generates a key of the CSR's key type, builds a CSR for req.Names (not
// the client CSR's names or extensions) signed by the new key, and enrolls
// that. Both backends use it; any CA can.
func ServerKeyGenWith(ctx context.Context, req *EnrollRequest, enroll func(context.Context, *EnrollRequest) (*Issued, error)) (*Issued, crypto.Signer, error) {
	kt, err := KeyTypeOf(req.CSR.PublicKey)
	if err != nil {
		return nil, nil, newError(http.StatusBadRequest, err, "CSR key type: %v", err)
	}
	key, err := GenerateKey(kt)
	if err != nil {
		return nil, nil, err
	}
	if req.Names == nil {
		return nil, nil, errors.New("serverkeygen: no certificate names")
	}
	tmpl := &x509.CertificateRequest{
		Subject:        req.Names.Subject,
		DNSNames:       req.Names.DNSNames,
		EmailAddresses: req.Names.EmailAddresses,
		IPAddresses:    req.Names.IPAddresses,
		URIs:           req.Names.URIs,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, fmt.Errorf("serverkeygen: %w", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, nil, fmt.Errorf("serverkeygen: %w", err)
	}
	inner := *req
	inner.CSR = csr
	iss, err := enroll(ctx, &inner)
	if err != nil {
		return nil, nil, err
	}
	return iss, key, nil
}
