package oscore

import (
	"crypto"
	"crypto/cipher"
	"crypto/hkdf"
	"errors"
	"fmt"
)

// Params are the inputs of the security context (RFC 8613 3.1, 3.2).
type Params struct {
	AEAD         Algorithm
	HKDF         HKDF // default HKDFSHA256
	MasterSecret []byte
	MasterSalt   []byte // may be empty
	SenderID     []byte
	RecipientID  []byte
	IDContext    []byte // nil: absent
}

// Keys is the derived part of a security context (RFC 8613 3.2.1).
type Keys struct {
	AEAD         Algorithm
	SenderID     []byte
	RecipientID  []byte
	SenderKey    []byte
	RecipientKey []byte
	CommonIV     []byte

	sender, recipient cipher.AEAD
}

// ErrMalformed wraps every parsing error of protected messages and options.
var ErrMalformed = errors.New("oscore: malformed message")

// Derive derives Sender Key, Recipient Key and Common IV (RFC 8613 3.2.1).
func Derive(p Params) (*Keys, error) {
	if !p.AEAD.Supported() {
		return nil, fmt.Errorf("oscore: unsupported AEAD %v", p.AEAD)
	}
	if len(p.SenderID) > p.AEAD.MaxIDLen() || len(p.RecipientID) > p.AEAD.MaxIDLen() {
		return nil, fmt.Errorf("oscore: IDs longer than %d bytes do not fit %v's nonce", p.AEAD.MaxIDLen(), p.AEAD)
	}
	if len(p.MasterSecret) == 0 {
		return nil, errors.New("oscore: empty Master Secret")
	}
	h := crypto.Hash(p.HKDF)
	if h == 0 {
		h = crypto.SHA256
	}
	if h != crypto.SHA256 && h != crypto.SHA384 && h != crypto.SHA512 {
		return nil, fmt.Errorf("oscore: unsupported HKDF hash %v", h)
	}
	k := &Keys{AEAD: p.AEAD, SenderID: clone(p.SenderID), RecipientID: clone(p.RecipientID)}
	var err error
	derive := func(id []byte, typ string, l int) []byte {
		if err != nil {
			return nil
		}
		var out []byte
		out, err = hkdf.Key(h.New, p.MasterSecret, p.MasterSalt, string(kdfInfo(id, p.IDContext, p.AEAD, typ, l)), l)
		return out
	}
	k.SenderKey = derive(p.SenderID, "Key", p.AEAD.KeyLen())
	k.RecipientKey = derive(p.RecipientID, "Key", p.AEAD.KeyLen())
	k.CommonIV = derive(nil, "IV", p.AEAD.NonceLen())
	if err != nil {
		return nil, fmt.Errorf("oscore: HKDF: %w", err)
	}
	if k.sender, err = newAEAD(p.AEAD, k.SenderKey); err != nil {
		return nil, err
	}
	if k.recipient, err = newAEAD(p.AEAD, k.RecipientKey); err != nil {
		return nil, err
	}
	return k, nil
}

// kdfInfo is the CBOR info array of RFC 8613 3.2.1:
// [id: bstr, id_context: bstr / nil, alg_aead: int, type: tstr, L: uint].
func kdfInfo(id, idContext []byte, alg Algorithm, typ string, l int) []byte {
	b := appendArray(nil, 5)
	b = appendBytes(b, id) // nil encodes as h'', never null
	if idContext == nil {
		b = append(b, simpleNull)
	} else {
		b = appendBytes(b, idContext)
	}
	b = appendInt(b, int64(alg))
	b = appendText(b, typ)
	return appendInt(b, int64(l))
}

// nonce builds the AEAD nonce of RFC 8613 5.2 from the ID of the endpoint
// that generated the Partial IV and the Partial IV bytes.
func (k *Keys) nonce(idPIV, piv []byte) []byte {
	n := k.AEAD.NonceLen()
	out := make([]byte, n)
	out[0] = byte(len(idPIV))
	copy(out[1+(n-6)-len(idPIV):], idPIV)
	copy(out[n-len(piv):], piv)
	for i := range out {
		out[i] ^= k.CommonIV[i]
	}
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return append([]byte{}, b...)
}
