package atls

import (
	"sync"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// This file implements the per-replica cache of exported contexts (profile
// 4.6, 5.7) and of kids the store does not know.

// contextCache keeps, per kid, what a protected request needs from its
// stored context: the derived keys, the peer's parsed identity and the
// replay window as this replica last knew it. A hit saves a database read,
// three HKDF runs and the parsing of a certificate chain.
//
// It never weakens replay protection or deletion: the window check before
// decryption is a pre-check, and the authoritative one is the store's
// atomic MarkSeen after decryption, which also fails once the context was
// deleted or expired anywhere. The cached window is advanced by every
// MarkSeen this replica makes, so that a Partial IV it has seen is refused
// with 401 before decryption (profile 5.7) while the entry lives; one seen
// only by another replica is caught when its decryption fails (see
// serveProtected).
type contextCache struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[string]cachedContext
}

type cachedContext struct {
	sc     *oscore.StoredContext // read-only once cached
	window oscore.ReplayWindow   // a copy; the cache's own is advanced by markSeen
	keys   *oscore.Keys
	peer   *Peer
	until  time.Time
}

func newContextCache() *contextCache {
	return &contextCache{ttl: 5 * time.Second, max: 65536, m: make(map[string]cachedContext)}
}

func (c *contextCache) get(kid []byte, now time.Time) (cachedContext, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[string(kid)]
	if !ok || !now.Before(e.until) {
		return cachedContext{}, false
	}
	return e, true
}

func (c *contextCache) put(kid []byte, e cachedContext, now time.Time) {
	e.until = now.Add(c.ttl)
	if e.sc.ExpiresAt.Before(e.until) {
		e.until = e.sc.ExpiresAt
	}
	e.window = e.sc.Window
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.m = make(map[string]cachedContext)
	}
	c.m[string(kid)] = e
}

// markSeen records in the cached window a Partial IV the store has marked.
func (c *contextCache) markSeen(kid []byte, piv uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[string(kid)]; ok {
		e.window.Mark(piv)
		c.m[string(kid)] = e
	}
}

func (c *contextCache) drop(kid []byte) {
	c.mu.Lock()
	delete(c.m, string(kid))
	c.mu.Unlock()
}

// missCache remembers, for a few seconds, kids the store did not know, so
// that a stream of protected requests with an unknown kid costs one store
// lookup per kid and TTL instead of one each (issue 11, item 11).
//
// A short TTL is safe: a server CID is allocated uniquely across the
// deployment and is random (profile 4.3), so a client learns a kid only
// from the handshake that stored its context, which happened before the
// client's first request with it. A kid remembered as missing can name a
// context created later only if someone asked for it before its handshake
// finished (guessed it), or a released CID was allocated again within the
// TTL; the replica that stored the context forgets the miss at once
// (forget), and on other replicas the entry expires within the TTL, the
// worst case being one 401 on which the client runs a new handshake
// (profile 1.9).
type missCache struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[string]time.Time // kid -> until
}

func newMissCache() *missCache {
	return &missCache{ttl: 2 * time.Second, max: 4096, m: make(map[string]time.Time)}
}

// missing reports whether kid is remembered as unknown at now.
func (c *missCache) missing(kid []byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.m[string(kid)]
	if ok && !now.Before(until) {
		delete(c.m, string(kid))
		return false
	}
	return ok
}

// remember records kid as unknown. When full it first forgets expired
// entries, then everything: a flood of random kids costs at most one
// lookup per kid, as without the cache, and memory stays bounded.
func (c *missCache) remember(kid []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, until := range c.m {
			if !now.Before(until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			c.m = make(map[string]time.Time)
		}
	}
	c.m[string(kid)] = now.Add(c.ttl)
}

func (c *missCache) forget(kid []byte) {
	c.mu.Lock()
	delete(c.m, string(kid))
	c.mu.Unlock()
}
