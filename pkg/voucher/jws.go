package voucher

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// This file is the JWS voucher format of draft-ietf-anima-jws-voucher: the
// JSON voucher or voucher-request as the payload of a JWS (RFC 7515) in
// the General JSON Serialization (section 7.2.1), one signature, whose
// protected header holds alg, typ "voucher-jws+json" and x5c, the signer's
// certificate first and then its chain (RFC 7515 4.1.6).
//
// go-jose signs and checks the signature; it writes only the flattened
// serialization for one signature, so Sign rebuilds the general envelope
// around what it signed, and the verifier reads the protected header
// itself (x5c, typ, crit), because go-jose exposes x5c only through a
// chain check against the system roots.

// JWSType is the typ header parameter the draft gives the JWS voucher.
const JWSType = "voucher-jws+json"

// jwsEnvelope is the General JSON Serialization, or the flattened one
// (whose members Protected, Header and Signature sit at the top).
type jwsEnvelope struct {
	Payload    *string        `json:"payload"`
	Signatures []jwsSignature `json:"signatures,omitempty"`
	jwsSignature
}

type jwsSignature struct {
	Protected string          `json:"protected,omitempty"`
	Header    json.RawMessage `json:"header,omitempty"`
	Signature string          `json:"signature,omitempty"`
}

// jwsHeader is what the verifier reads of the protected header.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ,omitempty"`
	X5c  []string        `json:"x5c,omitempty"`
	Kid  string          `json:"kid,omitempty"`
	Crit json.RawMessage `json:"crit,omitempty"`
}

// SignVoucherJWS validates v and signs its JSON as a JWS voucher.
func (s *Signer) SignVoucherJWS(v *Voucher) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	js, _ := v.MarshalJSON()
	return s.SignJWS(js)
}

// SignVoucherRequestJWS signs r's JSON as a JWS voucher-request. Validate
// r for its role first.
func (s *Signer) SignVoucherRequestJWS(r *VoucherRequest) ([]byte, error) {
	js, _ := r.MarshalJSON()
	return s.SignJWS(js)
}

// SignJWS returns payload in a General JSON Serialization JWS with one
// signature by Key, whose protected header is alg (ES256, ES384 or ES512
// after the key's curve), typ voucher-jws+json and x5c (Cert, then Chain).
func (s *Signer) SignJWS(payload []byte) ([]byte, error) {
	if s.Cert == nil || s.Key == nil {
		return nil, fmt.Errorf("voucher: signer needs a certificate and a key")
	}
	alg, err := algorithmFor(s.Key.Public())
	if err != nil {
		return nil, err
	}
	x5c := []string{base64.StdEncoding.EncodeToString(s.Cert.Raw)}
	for _, c := range s.Chain {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
	}
	opts := (&jose.SignerOptions{}).WithType(JWSType).WithHeader("x5c", x5c)
	js, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(alg.jose),
		Key:       opaqueSigner{key: s.Key, alg: alg},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("voucher: jws: %w", err)
	}
	obj, err := js.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("voucher: jws: %w", err)
	}
	var flat jwsEnvelope
	if err := json.Unmarshal([]byte(obj.FullSerialize()), &flat); err != nil || flat.Payload == nil {
		return nil, fmt.Errorf("voucher: jws: go-jose wrote %v", err)
	}
	general := struct {
		Payload    string         `json:"payload"`
		Signatures []jwsSignature `json:"signatures"`
	}{*flat.Payload, []jwsSignature{{Protected: flat.Protected, Signature: flat.Signature}}}
	return json.Marshal(general)
}

// opaqueSigner lets go-jose sign with any crypto.Signer (an HSM's too).
type opaqueSigner struct {
	key crypto.Signer
	alg algorithm
}

func (o opaqueSigner) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.key.Public(), Algorithm: o.alg.jose}
}

func (o opaqueSigner) Algs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(o.alg.jose)}
}

func (o opaqueSigner) SignPayload(payload []byte, _ jose.SignatureAlgorithm) ([]byte, error) {
	return signRaw(o.key, o.alg, payload)
}

// signRaw signs msg with key and returns r || s, each alg.size bytes: the
// signature encoding of both RFC 7518 3.4 and RFC 9053 2.1.
func signRaw(key crypto.Signer, alg algorithm, msg []byte) ([]byte, error) {
	h := alg.hash.New()
	h.Write(msg)
	der, err := key.Sign(rand.Reader, h.Sum(nil), alg.hash)
	if err != nil {
		return nil, fmt.Errorf("voucher: sign: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return nil, fmt.Errorf("voucher: sign: the key returned no ECDSA signature: %w", err)
	}
	out := make([]byte, 2*alg.size)
	sig.R.FillBytes(out[:alg.size])
	sig.S.FillBytes(out[alg.size:])
	return out, nil
}

// ParseJWS parses a JWS voucher or voucher-request without verifying it:
// the General JSON Serialization (the flattened one too), exactly one
// signature, a protected header with an ES256, ES384 or ES512 alg, typ
// absent or voucher-jws+json, no crit, and x5c if present of DER
// certificates. The result may be forged; use it to choose how to verify.
func ParseJWS(signed []byte) (*SignedContent, error) {
	sc, _, _, err := parseJWS(signed)
	return sc, err
}

func parseJWS(signed []byte) (*SignedContent, *jwsHeader, algorithm, error) {
	var none algorithm
	if len(bytes.TrimSpace(signed)) == 0 {
		return nil, nil, none, fail(ErrMalformed, "empty JWS")
	}
	dec := json.NewDecoder(bytes.NewReader(signed))
	dec.DisallowUnknownFields()
	var env jwsEnvelope
	if err := dec.Decode(&env); err != nil {
		return nil, nil, none, failWrap(ErrMalformed, err, "JWS is not a JSON serialization")
	}
	if dec.More() {
		return nil, nil, none, fail(ErrMalformed, "JWS: data after the object")
	}
	sigs := env.Signatures
	if env.Protected != "" || env.Signature != "" || env.Header != nil {
		if len(sigs) > 0 {
			return nil, nil, none, fail(ErrMalformed, "JWS is both general and flattened")
		}
		sigs = []jwsSignature{env.jwsSignature}
	}
	if len(sigs) != 1 {
		return nil, nil, none, fail(ErrMalformed, "%d signatures, want 1", len(sigs))
	}
	if env.Payload == nil || *env.Payload == "" {
		return nil, nil, none, fail(ErrMalformed, "JWS without payload")
	}
	payload, err := base64.RawURLEncoding.DecodeString(*env.Payload)
	if err != nil {
		return nil, nil, none, failWrap(ErrMalformed, err, "JWS payload")
	}
	if sigs[0].Protected == "" {
		return nil, nil, none, fail(ErrMalformed, "JWS without a protected header")
	}
	raw, err := base64.RawURLEncoding.DecodeString(sigs[0].Protected)
	if err != nil {
		return nil, nil, none, failWrap(ErrMalformed, err, "JWS protected header")
	}
	var hdr jwsHeader
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return nil, nil, none, failWrap(ErrMalformed, err, "JWS protected header")
	}
	if hdr.Crit != nil {
		return nil, nil, none, fail(ErrMalformed, "JWS crit %s: no extension is understood", hdr.Crit)
	}
	var alg algorithm
	for _, a := range algorithms {
		if a.jose == hdr.Alg {
			alg = a
		}
	}
	if alg.jose == "" {
		return nil, nil, none, fail(ErrUnsupportedAlgorithm, "JWS alg %q (want ES256, ES384 or ES512)", hdr.Alg)
	}
	if t := strings.ToLower(hdr.Typ); t != "" && t != JWSType && t != "application/"+JWSType {
		return nil, nil, none, fail(ErrUnsupportedContent, "JWS typ %q", hdr.Typ)
	}
	sc := &SignedContent{Content: payload, Format: FormatJWS}
	for i, b64 := range hdr.X5c {
		der, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, nil, none, failWrap(ErrMalformed, err, "x5c[%d]", i)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, none, certParseError(err, fmt.Sprintf("x5c[%d]", i))
		}
		sc.Certificates = append(sc.Certificates, c)
	}
	return sc, &hdr, alg, nil
}

// VerifyJWS verifies a JWS voucher or voucher-request as Verify does a
// CMS one: the signer is x5c[0], or without x5c the one certificate of
// opts.Intermediates whose key verifies (the RFC 8995 voucher need not
// carry the MASA's certificate); alg must fit its key; the signature must
// cover the protected header and payload; the signer must chain to
// opts.Roots (x5c[1:] and opts.Intermediates as intermediates) at opts.At,
// or at the payload's created-on when At is zero.
func VerifyJWS(signed []byte, opts VerifyOptions) (*SignedContent, error) {
	sc, _, alg, err := parseJWS(signed)
	if err != nil {
		return nil, err
	}
	obj, err := jose.ParseSigned(string(signed), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg.jose)})
	if err != nil {
		return nil, failWrap(ErrMalformed, err, "JWS")
	}
	candidates := sc.Certificates
	if len(candidates) > 0 {
		candidates = candidates[:1]
	} else {
		candidates = opts.Intermediates
	}
	fitting := 0
	for _, c := range candidates {
		if !alg.fits(c) {
			continue
		}
		fitting++
		payload, err := obj.Verify(c.PublicKey.(*ecdsa.PublicKey))
		if err != nil {
			continue
		}
		sc.Content, sc.Signer = payload, c
		break
	}
	switch {
	case sc.Signer != nil:
	case len(sc.Certificates) > 0 && fitting == 0:
		return nil, fail(ErrUnsupportedAlgorithm, "JWS alg %s does not fit the x5c key", alg.jose)
	case len(sc.Certificates) > 0:
		return nil, fail(ErrBadSignature, "JWS signature does not verify with x5c[0]")
	case fitting == 0:
		return nil, fail(ErrNoSignerCert, "JWS without x5c, and no supplied certificate has a %s key", alg.jose)
	default:
		return nil, fail(ErrBadSignature, "JWS without x5c: no supplied certificate verifies it")
	}
	if opts.At.IsZero() {
		sc.SigningTime = claimedTime(FormatJWS, sc.Content)
	}
	if sc.Chains, err = verifyChain(sc.Signer, sc.Certificates, opts, sc.SigningTime); err != nil {
		return nil, err
	}
	return sc, nil
}
