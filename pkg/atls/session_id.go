package atls

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// This file implements session ids (profile 1.4): owner replica, random
// bytes and an integrity tag, checked before any other processing.

// Session ids (profile 1.4) are opaque to clients. Landfall's carry routing
// data and an integrity check:
//
//	version (1) || len(owner) (1) || owner || random (16) || HMAC-SHA256 tag (12)
//
// base64url without padding, at most 62 characters. The owner names the
// replica that holds the session's TLS state; the tag, under a key all
// replicas share, lets any replica reject a forged id before any other work.
const (
	sidVersion   = 1
	sidRandomLen = 16
	sidTagLen    = 12
	// MaxOwnerIDLen bounds a replica id so that a sid fits the profile's
	// 64-character limit.
	MaxOwnerIDLen = 16
	minSIDKeyLen  = 16
)

var errForgedSID = errors.New("session id fails its integrity check")

// sidCodec mints and verifies session ids under one MAC key.
type sidCodec struct {
	key []byte
	// macs holds keyed HMAC states for reuse: every flight checks a sid.
	macs sync.Pool
}

func newSIDCodec(key []byte) (*sidCodec, error) {
	if len(key) < minSIDKeyLen {
		return nil, fmt.Errorf("atls: session id key must be at least %d bytes", minSIDKeyLen)
	}
	return &sidCodec{key: append([]byte(nil), key...)}, nil
}

// mint returns a fresh session id owned by owner.
func (c *sidCodec) mint(owner string) (string, error) {
	if len(owner) > MaxOwnerIDLen {
		return "", fmt.Errorf("atls: owner id %q longer than %d bytes", owner, MaxOwnerIDLen)
	}
	b := make([]byte, 0, 2+len(owner)+sidRandomLen+sidTagLen)
	b = append(b, sidVersion, byte(len(owner)))
	b = append(b, owner...)
	b = b[:len(b)+sidRandomLen]
	if _, err := rand.Read(b[len(b)-sidRandomLen:]); err != nil {
		return "", err
	}
	t := c.tag(b)
	b = append(b, t[:]...)
	var out [64]byte
	return string(base64.RawURLEncoding.AppendEncode(out[:0], b)), nil
}

// owner verifies sid and returns the replica id it names.
func (c *sidCodec) owner(sid string) (string, error) {
	if len(sid) > 64 {
		return "", errForgedSID
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(sid)
	if err != nil || len(b) < 2+sidRandomLen+sidTagLen || b[0] != sidVersion {
		return "", errForgedSID
	}
	n := int(b[1])
	if len(b) != 2+n+sidRandomLen+sidTagLen {
		return "", errForgedSID
	}
	body, tag := b[:len(b)-sidTagLen], b[len(b)-sidTagLen:]
	if want := c.tag(body); !hmac.Equal(tag, want[:]) {
		return "", errForgedSID
	}
	return string(b[2 : 2+n]), nil
}

func (c *sidCodec) tag(body []byte) (t [sidTagLen]byte) {
	m, _ := c.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, c.key)
	} else {
		m.Reset()
	}
	m.Write(body)
	var sum [sha256.Size]byte
	copy(t[:], m.Sum(sum[:0]))
	c.macs.Put(m)
	return t
}
