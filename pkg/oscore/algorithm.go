package oscore

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"fmt"

	"github.com/pion/dtls/v3/pkg/crypto/ccm"
	"golang.org/x/crypto/chacha20poly1305"
)

// Algorithm is a COSE AEAD algorithm identifier (RFC 9053).
type Algorithm int

// The AEADs of RFC 8613 and the ATLS profile's suite table.
const (
	A128GCM          Algorithm = 1
	A256GCM          Algorithm = 3
	AESCCM16_64_128  Algorithm = 10
	AESCCM16_64_256  Algorithm = 11
	ChaCha20Poly1305 Algorithm = 24
	AESCCM16_128_128 Algorithm = 30
	AESCCM16_128_256 Algorithm = 31
)

type algParams struct {
	key, nonce, tag int
	ccm             bool
}

var algorithms = map[Algorithm]algParams{
	A128GCM:          {16, 12, 16, false},
	A256GCM:          {32, 12, 16, false},
	ChaCha20Poly1305: {32, 12, 16, false},
	AESCCM16_64_128:  {16, 13, 8, true},
	AESCCM16_64_256:  {32, 13, 8, true},
	AESCCM16_128_128: {16, 13, 16, true},
	AESCCM16_128_256: {32, 13, 16, true},
}

// Supported reports whether the package implements a.
func (a Algorithm) Supported() bool { _, ok := algorithms[a]; return ok }

// KeyLen is the key length in bytes.
func (a Algorithm) KeyLen() int { return algorithms[a].key }

// NonceLen is the nonce length in bytes.
func (a Algorithm) NonceLen() int { return algorithms[a].nonce }

// TagLen is the authentication tag length in bytes.
func (a Algorithm) TagLen() int { return algorithms[a].tag }

// MaxIDLen is the longest Sender or Recipient ID the nonce leaves room for
// (RFC 8613 5.2: nonce length minus 6).
func (a Algorithm) MaxIDLen() int { return algorithms[a].nonce - 6 }

func (a Algorithm) String() string {
	switch a {
	case A128GCM:
		return "A128GCM"
	case A256GCM:
		return "A256GCM"
	case ChaCha20Poly1305:
		return "ChaCha20/Poly1305"
	case AESCCM16_64_128:
		return "AES-CCM-16-64-128"
	case AESCCM16_64_256:
		return "AES-CCM-16-64-256"
	case AESCCM16_128_128:
		return "AES-CCM-16-128-128"
	case AESCCM16_128_256:
		return "AES-CCM-16-128-256"
	}
	return fmt.Sprintf("COSE alg %d", int(a))
}

// newAEAD returns the AEAD a keyed with key. CCM comes from pion/dtls,
// since the standard library has none.
func newAEAD(a Algorithm, key []byte) (cipher.AEAD, error) {
	p, ok := algorithms[a]
	if !ok {
		return nil, fmt.Errorf("oscore: unsupported AEAD %v", a)
	}
	if len(key) != p.key {
		return nil, fmt.Errorf("oscore: %v needs a %d-byte key", a, p.key)
	}
	if a == ChaCha20Poly1305 {
		return chacha20poly1305.New(key)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if p.ccm {
		return ccm.NewCCM(block, p.tag, p.nonce)
	}
	return cipher.NewGCM(block)
}

// HKDF names the hash of the key-derivation function (RFC 8613 3.2.1).
type HKDF crypto.Hash

// HKDF algorithms used by Landfall.
const (
	HKDFSHA256 = HKDF(crypto.SHA256)
	HKDFSHA384 = HKDF(crypto.SHA384)
)
