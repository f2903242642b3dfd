package registrar

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// anchorCache remembers which manufacturer an IDevID chain verified
// against, so that the several requests of one onboarding (voucher
// request, status reports, EST calls, on any replica) verify the chain
// once per replica rather than once per request. Entries live briefly, so
// that a manufacturer removed by an operator stops matching soon; the
// list of manufacturers is refreshed as often.
type anchorCache struct {
	ttl     time.Duration
	max     int
	mu      sync.Mutex
	anchors []store.Anchor
	loaded  time.Time
	chains  map[[sha256.Size]byte]cachedAnchor
}

type cachedAnchor struct {
	anchor  *store.Anchor
	expires time.Time
}

func newAnchorCache() *anchorCache {
	return &anchorCache{ttl: 10 * time.Second, max: 65536, chains: make(map[[sha256.Size]byte]cachedAnchor)}
}

// chainKey identifies a presented chain.
func chainKey(chain []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range chain {
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *anchorCache) lookup(key [sha256.Size]byte, now time.Time) *store.Anchor {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.chains[key]; ok && now.Before(e.expires) {
		return e.anchor
	}
	return nil
}

func (c *anchorCache) remember(key [sha256.Size]byte, a *store.Anchor, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.chains) >= c.max {
		c.chains = make(map[[sha256.Size]byte]cachedAnchor)
	}
	c.chains[key] = cachedAnchor{anchor: a, expires: now.Add(c.ttl)}
}

// list returns the trusted manufacturers, reloading them when stale.
func (c *anchorCache) list(ctx context.Context, s AnchorSource, now time.Time) ([]store.Anchor, error) {
	c.mu.Lock()
	if c.anchors != nil && now.Sub(c.loaded) < c.ttl {
		a := c.anchors
		c.mu.Unlock()
		return a, nil
	}
	c.mu.Unlock()
	anchors, err := s.Anchors(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.anchors, c.loaded = anchors, now
	c.mu.Unlock()
	return anchors, nil
}
