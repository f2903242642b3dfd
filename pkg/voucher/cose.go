package voucher

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"math/big"

	"github.com/fxamacker/cbor/v2"
)

// This file is the COSE voucher format of draft-ietf-anima-constrained-
// voucher: the CBOR voucher or voucher-request (cbor.go) as the payload of
// a COSE_Sign1 (RFC 9052 section 4.2), tag 18, media type
// application/voucher+cose (CoAP Content-Format 836). The protected header
// holds alg, ES256 (-7), ES384 (-35) or ES512 (-36); the signer's
// certificates travel in x5bag (32) or x5chain (33) of RFC 9360, the kid
// (4) may name the key.
//
// Sign1 is written here rather than taken from github.com/veraison/go-cose:
// a voucher needs one message type, one signer and no countersignature,
// which is a four-element array and the Sig_structure of RFC 9052 4.4 over
// fxamacker/cbor, already a dependency (go-cose is built on it too). Doing
// it here keeps x5bag, x5chain and kid, which go-cose leaves to the caller
// as raw header values, with the code that judges them, keeps the strict
// decoding options for untrusted input in one place, and adds no module.

// COSE header labels (RFC 9052 3.1, RFC 9360 2).
const (
	coseAlg         = 1
	coseCrit        = 2
	coseContentType = 3
	coseKID         = 4
	coseX5Bag       = 32
	coseX5Chain     = 33
	coseSign1Tag    = 18
)

// COSECerts says which header parameter carries the signer's certificates.
type COSECerts int

const (
	// COSEX5Bag puts Cert and Chain in x5bag, as the draft has the
	// registrar do in its voucher-request and the MASA in its voucher.
	COSEX5Bag COSECerts = iota
	// COSEX5Chain puts them in x5chain, signer first.
	COSEX5Chain
	// COSENoCerts carries none: the pledge's voucher-request (the draft:
	// SHOULD NOT use x5bag or x5chain), whose verifier knows the IDevID
	// from the session.
	COSENoCerts
)

// COSEOptions shape the headers of a COSE_Sign1.
type COSEOptions struct {
	Certs COSECerts
	// Protected puts the certificates in the protected header. The draft
	// advises against it for vouchers (the registrar cannot strip them);
	// the default is the unprotected header.
	Protected bool
	// KID, when set, is the unprotected kid.
	KID []byte
}

// coseSign1 is the COSE_Sign1 array.
type coseSign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected map[any]cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// SignVoucherCOSE validates v and signs its CBOR as a COSE voucher.
func (s *Signer) SignVoucherCOSE(v *Voucher) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	payload, err := v.MarshalCBOR()
	if err != nil {
		return nil, err
	}
	return s.SignCOSE(payload)
}

// SignVoucherRequestCOSE signs r's CBOR as a COSE voucher-request.
// Validate r for its role first.
func (s *Signer) SignVoucherRequestCOSE(r *VoucherRequest) ([]byte, error) {
	payload, err := r.MarshalCBOR()
	if err != nil {
		return nil, err
	}
	return s.SignCOSE(payload)
}

// SignCOSE returns payload in a tagged COSE_Sign1 signed by Key, with alg
// in the protected header and Cert and Chain where s.COSE says.
func (s *Signer) SignCOSE(payload []byte) ([]byte, error) {
	if s.Key == nil || (s.Cert == nil && s.COSE.Certs != COSENoCerts) {
		return nil, fmt.Errorf("voucher: signer needs a certificate and a key")
	}
	alg, err := algorithmFor(s.Key.Public())
	if err != nil {
		return nil, err
	}
	prot := map[int64]any{coseAlg: alg.cose}
	unprot := map[int64]any{}
	if s.COSE.Certs != COSENoCerts {
		certs := [][]byte{s.Cert.Raw}
		for _, c := range s.Chain {
			certs = append(certs, c.Raw)
		}
		var v any = certs
		if len(certs) == 1 {
			v = certs[0] // RFC 9360 2: one certificate is a bstr
		}
		label := int64(coseX5Bag)
		if s.COSE.Certs == COSEX5Chain {
			label = coseX5Chain
		}
		if s.COSE.Protected {
			prot[label] = v
		} else {
			unprot[label] = v
		}
	}
	if s.COSE.KID != nil {
		unprot[coseKID] = s.COSE.KID
	}
	protected, err := cborEnc.Marshal(prot)
	if err != nil {
		return nil, fmt.Errorf("voucher: cose: %w", err)
	}
	tbs, err := sigStructure(protected, payload)
	if err != nil {
		return nil, err
	}
	sig, err := signRaw(s.Key, alg, tbs)
	if err != nil {
		return nil, err
	}
	unprotRaw, err := cborEnc.Marshal(unprot)
	if err != nil {
		return nil, fmt.Errorf("voucher: cose: %w", err)
	}
	msg := []any{protected, cbor.RawMessage(unprotRaw), payload, sig}
	return cborEnc.Marshal(cbor.Tag{Number: coseSign1Tag, Content: msg})
}

// sigStructure is the Sig_structure of RFC 9052 4.4 for a COSE_Sign1 with
// no external_aad: ["Signature1", body_protected, h”, payload].
func sigStructure(protected, payload []byte) ([]byte, error) {
	b, err := cborEnc.Marshal([]any{"Signature1", protected, []byte{}, payload})
	if err != nil {
		return nil, fmt.Errorf("voucher: cose: %w", err)
	}
	return b, nil
}

// coseParsed is a COSE_Sign1 taken apart.
type coseParsed struct {
	msg    coseSign1
	tagged bool
	alg    algorithm
	kid    []byte
	chain  bool // certificates from x5chain, signer first
	certs  []*x509.Certificate
}

// ParseCOSE parses a COSE voucher or voucher-request without verifying it:
// a COSE_Sign1, tagged 18 or not, with an attached payload, alg ES256,
// ES384 or ES512 in the protected header, no label in both headers, no
// crit beyond the labels read here, and x5bag or x5chain, if present, of
// DER certificates. The result may be forged.
func ParseCOSE(signed []byte) (*SignedContent, error) {
	p, err := parseCOSE(signed)
	if err != nil {
		return nil, err
	}
	return &SignedContent{Content: p.msg.Payload, Certificates: p.certs, Format: FormatCOSE}, nil
}

func parseCOSE(signed []byte) (*coseParsed, error) {
	if len(signed) == 0 {
		return nil, fail(ErrMalformed, "empty COSE")
	}
	p := new(coseParsed)
	body := signed
	if signed[0]>>5 == 6 { // a tag
		var tag cbor.RawTag
		if err := cborDec.Unmarshal(signed, &tag); err != nil {
			return nil, failWrap(ErrMalformed, err, "COSE")
		}
		if tag.Number != coseSign1Tag {
			return nil, fail(ErrUnsupportedContent, "COSE tag %d, want COSE_Sign1 (18)", tag.Number)
		}
		body, p.tagged = tag.Content, true
	}
	var parts []cbor.RawMessage
	if err := cborDec.Unmarshal(body, &parts); err != nil {
		return nil, failWrap(ErrMalformed, err, "COSE_Sign1")
	}
	if len(parts) != 4 {
		return nil, fail(ErrMalformed, "COSE_Sign1 of %d elements, want 4", len(parts))
	}
	var err error
	if p.msg.Protected, err = bstr(parts[0], "protected header"); err != nil {
		return nil, err
	}
	if err := cborDec.Unmarshal(parts[1], &p.msg.Unprotected); err != nil || p.msg.Unprotected == nil {
		return nil, fail(ErrMalformed, "COSE unprotected header is not a map")
	}
	if bytes.Equal(parts[2], []byte{0xf6}) {
		return nil, fail(ErrMalformed, "COSE payload is detached")
	}
	if p.msg.Payload, err = bstr(parts[2], "payload"); err != nil {
		return nil, err
	}
	if p.msg.Signature, err = bstr(parts[3], "signature"); err != nil {
		return nil, err
	}
	prot := map[any]cbor.RawMessage{}
	if len(p.msg.Protected) > 0 {
		if err := cborDec.Unmarshal(p.msg.Protected, &prot); err != nil {
			return nil, failWrap(ErrMalformed, err, "COSE protected header")
		}
	}
	protected, err := labels(prot)
	if err != nil {
		return nil, err
	}
	unprotected, err := labels(p.msg.Unprotected)
	if err != nil {
		return nil, err
	}
	for l := range protected {
		if _, dup := unprotected[l]; dup {
			return nil, fail(ErrMalformed, "COSE header label %v in both buckets (RFC 9052 3)", l)
		}
	}
	header := func(l int64) (cbor.RawMessage, bool) {
		if v, ok := protected[l]; ok {
			return v, true
		}
		v, ok := unprotected[l]
		return v, ok
	}
	if raw, ok := protected[coseCrit]; ok {
		var crit []any
		if err := cborDec.Unmarshal(raw, &crit); err != nil || len(crit) == 0 {
			return nil, fail(ErrMalformed, "COSE crit is not a non-empty array")
		}
		for _, l := range crit {
			switch l {
			case uint64(coseAlg), uint64(coseKID), uint64(coseX5Bag), uint64(coseX5Chain), uint64(coseContentType):
			default:
				return nil, fail(ErrMalformed, "COSE crit names %v, which is not understood", l)
			}
		}
	}
	rawAlg, ok := protected[coseAlg]
	if !ok {
		if _, inUnprotected := unprotected[coseAlg]; inUnprotected {
			return nil, fail(ErrUnsupportedAlgorithm, "COSE alg only in the unprotected header")
		}
		return nil, fail(ErrUnsupportedAlgorithm, "COSE without alg")
	}
	var alg int64
	if err := cborDec.Unmarshal(rawAlg, &alg); err != nil {
		return nil, fail(ErrUnsupportedAlgorithm, "COSE alg is not an integer")
	}
	for _, a := range algorithms {
		if a.cose == alg {
			p.alg = a
		}
	}
	if p.alg.cose == 0 {
		return nil, fail(ErrUnsupportedAlgorithm, "COSE alg %d (want ES256 -7, ES384 -35 or ES512 -36)", alg)
	}
	if raw, ok := header(coseKID); ok {
		if p.kid, err = bstr(raw, "kid"); err != nil {
			return nil, err
		}
	}
	bag, hasBag := header(coseX5Bag)
	chain, hasChain := header(coseX5Chain)
	switch {
	case hasBag && hasChain:
		// RFC 9360 allows both; the chain then names the signer.
		if p.certs, err = coseX509(chain, "x5chain"); err != nil {
			return nil, err
		}
		more, err := coseX509(bag, "x5bag")
		if err != nil {
			return nil, err
		}
		p.chain, p.certs = true, append(p.certs, more...)
	case hasChain:
		p.chain = true
		if p.certs, err = coseX509(chain, "x5chain"); err != nil {
			return nil, err
		}
	case hasBag:
		if p.certs, err = coseX509(bag, "x5bag"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// labels normalizes header labels: integers to int64, text kept.
func labels(m map[any]cbor.RawMessage) (map[int64]cbor.RawMessage, error) {
	out := make(map[int64]cbor.RawMessage, len(m))
	for k, v := range m {
		switch k := k.(type) {
		case uint64:
			if k > 1<<62 {
				return nil, fail(ErrMalformed, "COSE header label %d", k)
			}
			out[int64(k)] = v
		case int64:
			out[k] = v
		case string:
			// Text labels are private use; none is understood or needed.
		default:
			return nil, fail(ErrMalformed, "COSE header label of type %T", k)
		}
	}
	return out, nil
}

func bstr(raw cbor.RawMessage, what string) ([]byte, error) {
	var v any
	if err := cborDec.Unmarshal(raw, &v); err != nil {
		return nil, failWrap(ErrMalformed, err, "COSE %s", what)
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, fail(ErrMalformed, "COSE %s is not a byte string", what)
	}
	return b, nil
}

// coseX509 decodes COSE_X509 (RFC 9360 2): one bstr or an array of them.
func coseX509(raw cbor.RawMessage, what string) ([]*x509.Certificate, error) {
	var v any
	if err := cborDec.Unmarshal(raw, &v); err != nil {
		return nil, failWrap(ErrMalformed, err, "COSE %s", what)
	}
	var ders [][]byte
	switch v := v.(type) {
	case []byte:
		ders = [][]byte{v}
	case []any:
		for _, e := range v {
			b, ok := e.([]byte)
			if !ok {
				return nil, fail(ErrMalformed, "COSE %s holds a %T", what, e)
			}
			ders = append(ders, b)
		}
	default:
		return nil, fail(ErrMalformed, "COSE %s is a %T", what, v)
	}
	if len(ders) == 0 {
		return nil, fail(ErrMalformed, "COSE %s is empty", what)
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, certParseError(err, fmt.Sprintf("COSE %s[%d]", what, i))
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// VerifyCOSE verifies a COSE voucher or voucher-request as Verify does a
// CMS one. The signer is x5chain[0] when there is an x5chain; otherwise
// the certificate of x5bag or, without one, of opts.Intermediates whose
// key verifies the signature, those whose SubjectKeyId equals the kid
// tried first (the draft leaves the kid's form to the manufacturer; the
// key identifier is the common one). alg must fit the signer's key. The
// signer must chain to opts.Roots with the carried certificates and
// opts.Intermediates as intermediates, at opts.At or, when zero, at the
// payload's created-on.
func VerifyCOSE(signed []byte, opts VerifyOptions) (*SignedContent, error) {
	p, err := parseCOSE(signed)
	if err != nil {
		return nil, err
	}
	sc := &SignedContent{Content: p.msg.Payload, Certificates: p.certs, Format: FormatCOSE}
	var candidates []*x509.Certificate
	switch {
	case p.chain:
		candidates = p.certs[:1]
	case len(p.certs) > 0:
		candidates = append(append(candidates, p.certs...), opts.Intermediates...)
	default:
		candidates = opts.Intermediates
	}
	if p.kid != nil {
		var named, rest []*x509.Certificate
		for _, c := range candidates {
			if c.SubjectKeyId != nil && bytes.Equal(c.SubjectKeyId, p.kid) {
				named = append(named, c)
			} else {
				rest = append(rest, c)
			}
		}
		candidates = append(named, rest...)
	}
	tbs, err := sigStructure(p.msg.Protected, p.msg.Payload)
	if err != nil {
		return nil, err
	}
	if len(p.msg.Signature) != 2*p.alg.size {
		return nil, fail(ErrBadSignature, "COSE signature of %d bytes, %d for %d", len(p.msg.Signature), 2*p.alg.size, p.alg.cose)
	}
	h := p.alg.hash.New()
	h.Write(tbs)
	digest := h.Sum(nil)
	r := new(big.Int).SetBytes(p.msg.Signature[:p.alg.size])
	s := new(big.Int).SetBytes(p.msg.Signature[p.alg.size:])
	fitting := 0
	for _, c := range candidates {
		if !p.alg.fits(c) {
			continue
		}
		fitting++
		if ecdsa.Verify(c.PublicKey.(*ecdsa.PublicKey), digest, r, s) {
			sc.Signer = c
			break
		}
	}
	switch {
	case sc.Signer != nil:
	case p.chain && fitting == 0:
		return nil, fail(ErrUnsupportedAlgorithm, "COSE alg %d does not fit the x5chain key", p.alg.cose)
	case p.chain:
		return nil, fail(ErrBadSignature, "COSE signature does not verify with x5chain[0]")
	case len(candidates) == 0 || fitting == 0:
		return nil, fail(ErrNoSignerCert, "COSE without x5bag or x5chain, and no supplied certificate has a key for alg %d", p.alg.cose)
	default:
		return nil, fail(ErrBadSignature, "COSE signature verifies with no carried or supplied certificate")
	}
	if opts.At.IsZero() {
		sc.SigningTime = claimedTime(FormatCOSE, sc.Content)
	}
	if sc.Chains, err = verifyChain(sc.Signer, sc.Certificates, opts, sc.SigningTime); err != nil {
		return nil, err
	}
	return sc, nil
}

// StripCOSECerts removes x5bag and x5chain from the unprotected header of
// a COSE voucher, as the registrar MUST before it relays the MASA's voucher
// to the pledge (draft-ietf-anima-constrained-voucher 6.3: the pledge has
// the MASA's certificate and the bytes cost it). The protected header,
// payload and signature are kept byte for byte, so the signature still
// verifies; certificates in the protected header cannot be removed and
// stay.
func StripCOSECerts(signed []byte) ([]byte, error) {
	p, err := parseCOSE(signed)
	if err != nil {
		return nil, err
	}
	unprot := map[any]cbor.RawMessage{}
	for k, v := range p.msg.Unprotected {
		switch k {
		case uint64(coseX5Bag), uint64(coseX5Chain):
			continue
		}
		unprot[k] = v
	}
	unprotRaw, err := cborEnc.Marshal(unprot)
	if err != nil {
		return nil, fmt.Errorf("voucher: cose: %w", err)
	}
	msg := []any{p.msg.Protected, cbor.RawMessage(unprotRaw), p.msg.Payload, p.msg.Signature}
	if !p.tagged {
		return cborEnc.Marshal(msg)
	}
	return cborEnc.Marshal(cbor.Tag{Number: coseSign1Tag, Content: msg})
}
