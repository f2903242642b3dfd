package atls

import (
	"sync"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// contextCache keeps, per kid, what a protected request needs from its
// stored context besides the replay window: the derived keys and the
// peer's parsed identity. A hit saves a database read, three HKDF runs
// and the parsing of a certificate chain.
//
// It never weakens replay protection or deletion: the window check before
// decryption is a pre-check only, and the authoritative one is the
// store's atomic MarkSeen after decryption, which also fails once the
// context was deleted or expired anywhere. A stale entry can at most
// cost a wasted decryption.
type contextCache struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[string]cachedContext
}

type cachedContext struct {
	sc    *oscore.StoredContext
	keys  *oscore.Keys
	peer  *Peer
	until time.Time
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.m = make(map[string]cachedContext)
	}
	c.m[string(kid)] = e
}

func (c *contextCache) drop(kid []byte) {
	c.mu.Lock()
	delete(c.m, string(kid))
	c.mu.Unlock()
}
