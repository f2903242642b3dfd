package atls

import (
	"strconv"
	"sync"
	"time"
)

// This file implements the exchange cache of the CoAP binding (profile
// 7.4, RFC 7252 4.5): a Confirmable message that arrives again with the
// same source and message ID gets the answer the first one got, for
// EXCHANGE_LIFETIME, and is never fed to TLS twice.
//
// go-coap keeps a cache of its own per remote endpoint, but only while it
// keeps that endpoint's connection state, which its inactivity monitor
// drops long before EXCHANGE_LIFETIME. This cache is the binding's, keyed
// by source and message ID, bounded in entries, and on the server's clock.

// ExchangeLifetime is EXCHANGE_LIFETIME of RFC 7252 4.8.2 (247 s).
const ExchangeLifetime = 247 * time.Second

type exchangeEntry struct {
	answer  *coapAnswer
	expires time.Time
}

type exchangeCache struct {
	mu      sync.Mutex
	entries map[string]exchangeEntry
	max     int
}

func newExchangeCache(max int) *exchangeCache {
	return &exchangeCache{entries: map[string]exchangeEntry{}, max: max}
}

func exchangeKey(source string, mid uint16) string {
	return source + "#" + strconv.Itoa(int(mid))
}

// lookup returns the answer cached for (source, mid).
func (c *exchangeCache) lookup(source string, mid uint16, now time.Time) (*coapAnswer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := exchangeKey(source, mid)
	e, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	if now.After(e.expires) {
		delete(c.entries, k)
		return nil, false
	}
	return e.answer, true
}

// store remembers the answer to (source, mid) for ExchangeLifetime. When
// full it drops expired entries, then arbitrary ones down to half: a
// forgotten exchange whose duplicate still arrives is processed again: a
// later flight as the retransmission of 1.7 (TLS is not fed twice), a
// ClientHello as a session its client never learns of, which expires
// after the handshake idle time of 1.9.
func (c *exchangeCache) store(source string, mid uint16, a *coapAnswer, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[exchangeKey(source, mid)] = exchangeEntry{answer: a, expires: now.Add(ExchangeLifetime)}
}

func (c *exchangeCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
