package oscore

import (
	"bytes"
	"crypto/cipher"
	"fmt"
	"mime"
	"strings"
)

// The COSE mode of the ATLS profile (section 6): the OSCORE key schedule
// and nonces, with each message a tagged COSE_Encrypt0 whose plaintext is a
// complete inner HTTP/1.1 message.

// COSEMediaType is the outer Content-Type of the COSE mode.
const COSEMediaType = `application/cose; cose-type="cose-encrypt0"`

// IsCOSEMediaType reports whether a Content-Type is the COSE mode's:
// application/cose with cose-type cose-encrypt0, matched case-insensitively,
// quoted or not (profile 6.5).
func IsCOSEMediaType(v string) bool {
	mt, params, err := mime.ParseMediaType(v)
	return err == nil && mt == "application/cose" && strings.EqualFold(params["cose-type"], "cose-encrypt0")
}

const coseTagEncrypt0 = 16

// Header labels (RFC 9052 3.1, RFC 8613 5.1).
const (
	labelAlg = 1
	labelKID = 4
	labelPIV = 6
)

// Encrypt0 is a decoded COSE_Encrypt0 of the profile.
type Encrypt0 struct {
	Protected  []byte // the serialized protected map, exactly as received
	Alg        Algorithm
	KID        []byte
	PIV        []byte // nil in responses
	Ciphertext []byte
}

// Marshal encodes #6.16([protected, {4: kid, 6: piv}, ciphertext]).
func (e *Encrypt0) Marshal() []byte {
	b := e.appendPrefix(make([]byte, 0, 32+len(e.Protected)+len(e.KID)+len(e.Ciphertext)), len(e.Ciphertext))
	return append(b, e.Ciphertext...)
}

// appendPrefix appends everything up to the ciphertext's bytes: the tag,
// the array head, both headers and the head of a ciphertext of ctLen bytes.
func (e *Encrypt0) appendPrefix(b []byte, ctLen int) []byte {
	b = appendHead(b, majorTag, coseTagEncrypt0)
	b = appendArray(b, 3)
	b = appendBytes(b, e.Protected)
	n := 1
	if e.PIV != nil {
		n = 2
	}
	b = appendHead(b, majorMap, uint64(n))
	b = appendInt(b, labelKID)
	b = appendBytes(b, e.KID)
	if e.PIV != nil {
		b = appendInt(b, labelPIV)
		b = appendBytes(b, e.PIV)
	}
	return appendHead(b, majorBytes, uint64(ctLen))
}

// seal encrypts plaintext straight into the encoding of e, saving the copy
// a separate Seal and Marshal would make.
func (e *Encrypt0) seal(aead cipher.AEAD, nonce, plaintext, aad []byte) []byte {
	ctLen := len(plaintext) + aead.Overhead()
	b := e.appendPrefix(make([]byte, 0, 32+len(e.Protected)+len(e.KID)+len(e.PIV)+ctLen), ctLen)
	out := aead.Seal(b, nonce, plaintext, aad)
	e.Ciphertext = out[len(b):]
	return out
}

// ParseEncrypt0 decodes a tagged COSE_Encrypt0 strictly (profile 6.5): an
// untagged object, a protected map other than {1: alg}, unknown or
// repeated header labels, or trailing bytes are malformed.
func ParseEncrypt0(b []byte) (*Encrypt0, error) {
	r := &cborReader{b: b}
	wrap := func(err error) error { return fmt.Errorf("%w: COSE_Encrypt0: %v", ErrMalformed, err) }
	if tag, err := r.expect(majorTag); err != nil || tag != coseTagEncrypt0 {
		return nil, wrap(fmt.Errorf("not tagged 16"))
	}
	if n, err := r.expect(majorArray); err != nil || n != 3 {
		return nil, wrap(fmt.Errorf("not a 3-element array"))
	}
	e := &Encrypt0{}
	var err error
	if e.Protected, err = r.bytes(); err != nil {
		return nil, wrap(err)
	}
	pr := &cborReader{b: e.Protected}
	if n, err := pr.expect(majorMap); err != nil || n != 1 {
		return nil, wrap(fmt.Errorf("protected header must be {1: alg}"))
	}
	if l, err := pr.int(); err != nil || l != labelAlg {
		return nil, wrap(fmt.Errorf("protected header must be {1: alg}"))
	}
	alg, err := pr.int()
	if err != nil || !pr.done() {
		return nil, wrap(fmt.Errorf("protected header must be {1: alg}"))
	}
	e.Alg = Algorithm(alg)
	n, err := r.expect(majorMap)
	if err != nil || n > 2 {
		return nil, wrap(fmt.Errorf("unprotected header must be a map of kid and Partial IV"))
	}
	seen := map[int64]bool{}
	for range n {
		label, err := r.int()
		if err != nil {
			return nil, wrap(err)
		}
		if seen[label] {
			return nil, wrap(fmt.Errorf("header label %d repeated", label))
		}
		seen[label] = true
		v, err := r.bytes()
		if err != nil {
			return nil, wrap(err)
		}
		switch label {
		case labelKID:
			e.KID = v
		case labelPIV:
			if len(v) == 0 || len(v) > 5 {
				return nil, wrap(fmt.Errorf("Partial IV of %d bytes", len(v)))
			}
			e.PIV = v
		default:
			return nil, wrap(fmt.Errorf("unexpected header label %d", label))
		}
	}
	if !seen[labelKID] {
		return nil, wrap(fmt.Errorf("no kid"))
	}
	if e.Ciphertext, err = r.bytes(); err != nil {
		return nil, wrap(err)
	}
	if !r.done() {
		return nil, wrap(fmt.Errorf("trailing bytes"))
	}
	return e, nil
}

// coseAAD is Enc_structure ["Encrypt0", protected, external_aad] with
// external_aad = bstr .cbor [1, alg, request_kid, request_piv] (profile 6.4,
// deliberately not RFC 8613's aad_array).
func coseAAD(protected []byte, alg Algorithm, requestKID, requestPIV []byte) []byte {
	ext := appendArray(nil, 4)
	ext = appendInt(ext, 1)
	ext = appendInt(ext, int64(alg))
	ext = appendBytes(ext, requestKID)
	ext = appendBytes(ext, requestPIV)
	return encStructure(protected, ext)
}

// encStructure is RFC 9052 5.3's Enc_structure for COSE_Encrypt0.
func encStructure(protected, externalAAD []byte) []byte {
	b := appendArray(nil, 3)
	b = appendText(b, "Encrypt0")
	b = appendBytes(b, protected)
	return appendBytes(b, externalAAD)
}

func protectedAlg(alg Algorithm) []byte {
	b := appendHead(nil, majorMap, 1)
	b = appendInt(b, labelAlg)
	return appendInt(b, int64(alg))
}

// SealRequest encrypts an inner HTTP/1.1 request as the profile's COSE
// request (6.2) under the next sequence number.
func (c *Context) SealRequest(plaintext []byte) ([]byte, *RequestState, error) {
	piv, err := c.nextPIV()
	if err != nil {
		return nil, nil, err
	}
	st := &RequestState{KID: c.SenderID, PIV: piv, Nonce: c.nonce(c.SenderID, piv)}
	e := &Encrypt0{Protected: protectedAlg(c.AEAD), Alg: c.AEAD, KID: c.SenderID, PIV: piv}
	return e.seal(c.sender, st.Nonce, plaintext, coseAAD(e.Protected, c.AEAD, st.KID, st.PIV)), st, nil
}

// OpenRequest decrypts a parsed COSE request (6.2, 6.4). As with OSCORE,
// replay checks are the caller's.
func (k *Keys) OpenRequest(e *Encrypt0) ([]byte, *RequestState, error) {
	if e.PIV == nil {
		return nil, nil, fmt.Errorf("%w: COSE request without Partial IV", ErrMalformed)
	}
	if !bytes.Equal(e.KID, k.RecipientID) {
		return nil, nil, ErrContextNotFound
	}
	if e.Alg != k.AEAD {
		return nil, nil, ErrDecrypt
	}
	st := &RequestState{KID: clone(e.KID), PIV: clone(e.PIV), Nonce: k.nonce(e.KID, e.PIV)}
	pt, err := k.recipient.Open(nil, st.Nonce, e.Ciphertext, coseAAD(e.Protected, k.AEAD, st.KID, st.PIV))
	if err != nil {
		return nil, nil, ErrDecrypt
	}
	return pt, st, nil
}

// SealResponse encrypts an inner HTTP/1.1 response to st (6.3): the
// server's Sender ID as kid, the request's nonce, no Partial IV.
func (k *Keys) SealResponse(st *RequestState, plaintext []byte) []byte {
	e := &Encrypt0{Protected: protectedAlg(k.AEAD), Alg: k.AEAD, KID: k.SenderID}
	return e.seal(k.sender, st.Nonce, plaintext, coseAAD(e.Protected, k.AEAD, st.KID, st.PIV))
}

// OpenResponse decrypts the COSE response to the request st describes.
func (c *Context) OpenResponse(st *RequestState, object []byte) ([]byte, error) {
	e, err := ParseEncrypt0(object)
	if err != nil {
		return nil, err
	}
	if e.Alg != c.AEAD {
		return nil, ErrDecrypt
	}
	nonce := st.Nonce
	if e.PIV != nil {
		nonce = c.nonce(c.RecipientID, e.PIV)
	}
	pt, err := c.recipient.Open(nil, nonce, e.Ciphertext, coseAAD(e.Protected, c.AEAD, st.KID, st.PIV))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
