package oscore

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
)

// Errors callers branch on; the reasons are the profile's (5.7).
var (
	ErrDecrypt           = errors.New("Decryption failed")
	ErrReplay            = errors.New("Replay detected")
	ErrContextNotFound   = errors.New("Security context not found")
	ErrSequenceExhausted = errors.New("oscore: sender sequence number exhausted")
)

// MaxSequence is the largest Sender Sequence Number (RFC 8613 7.2.1).
const MaxSequence = 1<<40 - 1

// RequestState binds a response to its request (RFC 8613 7.1): the
// request's kid and Partial IV enter the response's AAD, and a response
// without its own Partial IV reuses the request's nonce.
type RequestState struct {
	KID   []byte
	PIV   []byte
	Nonce []byte
}

// Context is one endpoint's security context: derived keys plus the
// sender's sequence number. It is safe for concurrent use.
type Context struct {
	*Keys
	mu  sync.Mutex
	ssn uint64
}

// NewContext derives a context whose Sender Sequence Number starts at 0.
func NewContext(p Params) (*Context, error) {
	k, err := Derive(p)
	if err != nil {
		return nil, err
	}
	return &Context{Keys: k}, nil
}

// SetSequence sets the next Sender Sequence Number (for tests and for
// contexts restored from storage).
func (c *Context) SetSequence(seq uint64) {
	c.mu.Lock()
	c.ssn = seq
	c.mu.Unlock()
}

// nextPIV takes the next Sender Sequence Number.
func (c *Context) nextPIV() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ssn > MaxSequence {
		return nil, ErrSequenceExhausted
	}
	piv := EncodePIV(c.ssn)
	c.ssn++
	return piv, nil
}

// ProtectRequest encrypts an inner CoAP request (RFC 8613 8.1) and returns
// the OSCORE option value, the ciphertext, and the state needed to read the
// response.
func (c *Context) ProtectRequest(plaintext []byte) (option, ciphertext []byte, st *RequestState, err error) {
	piv, err := c.nextPIV()
	if err != nil {
		return nil, nil, nil, err
	}
	st = &RequestState{KID: c.SenderID, PIV: piv, Nonce: c.nonce(c.SenderID, piv)}
	aad := oscoreAAD(c.AEAD, st.KID, st.PIV)
	ciphertext = c.sender.Seal(nil, st.Nonce, plaintext, aad)
	return Option{PIV: piv, KID: c.SenderID}.Marshal(), ciphertext, st, nil
}

// UnprotectResponse verifies and decrypts a response to the request st
// describes (RFC 8613 8.4), with or without a response Partial IV.
func (c *Context) UnprotectResponse(st *RequestState, option, ciphertext []byte) ([]byte, error) {
	opt, err := ParseOption(option)
	if err != nil {
		return nil, err
	}
	nonce := st.Nonce
	if opt.PIV != nil {
		nonce = c.nonce(c.RecipientID, opt.PIV)
	}
	pt, err := c.recipient.Open(nil, nonce, ciphertext, oscoreAAD(c.AEAD, st.KID, st.PIV))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// UnprotectRequest decrypts a request whose option named kid and PIV
// (RFC 8613 8.2). The kid must be k's Recipient ID (ErrContextNotFound
// otherwise): look the context up by kid first. Replay protection is the caller's: check the PIV before
// calling and mark it after success (profile 5.7).
func (k *Keys) UnprotectRequest(opt Option, ciphertext []byte) ([]byte, *RequestState, error) {
	if opt.PIV == nil || opt.KID == nil {
		return nil, nil, fmt.Errorf("%w: request without Partial IV or kid", ErrMalformed)
	}
	if !bytes.Equal(opt.KID, k.RecipientID) {
		return nil, nil, ErrContextNotFound
	}
	if len(ciphertext) < k.AEAD.TagLen() {
		return nil, nil, ErrDecrypt
	}
	st := &RequestState{KID: clone(opt.KID), PIV: clone(opt.PIV), Nonce: k.nonce(opt.KID, opt.PIV)}
	pt, err := k.recipient.Open(nil, st.Nonce, ciphertext, oscoreAAD(k.AEAD, st.KID, st.PIV))
	if err != nil {
		return nil, nil, ErrDecrypt
	}
	return pt, st, nil
}

// ProtectResponse encrypts a response to st without a Partial IV, reusing
// the request's nonce (RFC 8613 8.3; the profile's servers always do this).
// The option value is empty.
func (k *Keys) ProtectResponse(st *RequestState, plaintext []byte) (option, ciphertext []byte) {
	return []byte{}, k.sender.Seal(nil, st.Nonce, plaintext, oscoreAAD(k.AEAD, st.KID, st.PIV))
}

// ProtectResponseWithPIV encrypts a response to st under the responder's
// own Partial IV (RFC 8613 8.3 with a fresh nonce, Appendix C.8).
func (c *Context) ProtectResponseWithPIV(st *RequestState, plaintext []byte) (option, ciphertext []byte, err error) {
	piv, err := c.nextPIV()
	if err != nil {
		return nil, nil, err
	}
	ct := c.sender.Seal(nil, c.nonce(c.SenderID, piv), plaintext, oscoreAAD(c.AEAD, st.KID, st.PIV))
	return Option{PIV: piv}.Marshal(), ct, nil
}
