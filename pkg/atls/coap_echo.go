package atls

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// This file implements the amplification limit of the CoAP binding
// (profile 7.6): before the server answers a session-starting flight from
// a source it has not verified, it proves the source can receive, with the
// Echo option of RFC 9175 2.4.
//
// The Echo value is stateless, so that a challenge costs the server no
// memory and any replica accepts another's: 4 bytes of issue time (Unix
// seconds) and the first 12 bytes of HMAC-SHA256 over the time and the
// source endpoint, under a key derived from the session-id key all
// replicas share. A verified source (IP address and port) is remembered
// for VerifiedSourceLifetime.

// VerifiedSourceLifetime is how long a source stays verified (7.6).
const VerifiedSourceLifetime = 5 * time.Minute

// echoFreshness is how old an Echo value may be when it comes back: the
// client repeats its request at once (RFC 9175 2.4 leaves the window to
// the server).
const echoFreshness = 60 * time.Second

const echoLen = 4 + 12

type echoVerifier struct {
	key []byte

	mu       sync.Mutex
	verified map[string]time.Time // source → until
	max      int
}

func newEchoVerifier(sessionKey []byte, max int) *echoVerifier {
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte("landfall atls coap echo"))
	return &echoVerifier{key: m.Sum(nil), verified: map[string]time.Time{}, max: max}
}

// challenge is a fresh Echo value for source.
func (v *echoVerifier) challenge(source string, now time.Time) []byte {
	out := make([]byte, 4, echoLen)
	binary.BigEndian.PutUint32(out, uint32(now.Unix()))
	return append(out, v.tag(out[:4], source)...)
}

func (v *echoVerifier) tag(issued []byte, source string) []byte {
	m := hmac.New(sha256.New, v.key)
	m.Write(issued)
	m.Write([]byte(source))
	return m.Sum(nil)[:12]
}

// accept checks an Echo value from source and, when it is one of ours,
// fresh and for this source, marks the source verified.
func (v *echoVerifier) accept(echo []byte, source string, now time.Time) bool {
	if len(echo) != echoLen || !hmac.Equal(echo[4:], v.tag(echo[:4], source)) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint32(echo)), 0)
	if age := now.Sub(issued); age < -time.Second || age > echoFreshness {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.verified) >= v.max {
		v.evictLocked(now)
	}
	v.verified[source] = now.Add(VerifiedSourceLifetime)
	return true
}

// isVerified reports whether source answered a challenge within
// VerifiedSourceLifetime.
func (v *echoVerifier) isVerified(source string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	until, ok := v.verified[source]
	if ok && now.After(until) {
		delete(v.verified, source)
		return false
	}
	return ok
}

// evictLocked forgets expired sources, then arbitrary ones down to half
// the bound: a forgotten source is only challenged again.
func (v *echoVerifier) evictLocked(now time.Time) {
	for k, until := range v.verified {
		if now.After(until) {
			delete(v.verified, k)
		}
	}
	for k := range v.verified {
		if len(v.verified) < v.max/2 {
			break
		}
		delete(v.verified, k)
	}
}

// withinAmplificationLimit shortens the diagnostic of an error answer to
// an unverified source so that the answer is at most three times the
// request (7.6): a datagram of a few bytes must not draw a longer reason.
// The answer a is not modified (the exchange cache may hold it).
func withinAmplificationLimit(a *coapAnswer, req *pool.Message) *coapAnswer {
	in, err := req.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		return a
	}
	m := pool.NewMessage(req.Context())
	m.SetToken(req.Token())
	m.SetMessageID(req.MessageID())
	m.SetType(message.Acknowledgement)
	a.writeTo(m)
	out, err := m.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil || len(out) <= 3*len(in) {
		return a
	}
	short := *a
	short.payload = a.payload[:max(0, len(a.payload)-(len(out)-3*len(in)))]
	return &short
}
