package atls

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// This file implements the per-client rate limit of new sessions (profile
// 1.5: 429 + Retry-After) and the client address behind trusted proxies.

// rateLimiter is a token bucket per client address, limiting how fast one
// client may open new sessions (profile 1.5: 429 + Retry-After).
type rateLimiter struct {
	cfg     RateLimit
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter(cfg RateLimit) *rateLimiter {
	return &rateLimiter{cfg: cfg, buckets: make(map[string]*bucket)}
}

// allow takes a token for client, or says how long until one is available.
func (l *rateLimiter) allow(client string, now time.Time) (time.Duration, bool) {
	if l.cfg.PerSecond <= 0 {
		return 0, true
	}
	burst := float64(max(l.cfg.Burst, 1))
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= l.cfg.MaxClients {
			l.evictLocked(now, burst)
		}
		b = &bucket{tokens: burst, at: now}
		l.buckets[client] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.at).Seconds()*l.cfg.PerSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait := time.Duration((1 - b.tokens) / l.cfg.PerSecond * float64(time.Second))
	return max(wait, time.Second), false
}

// evictLocked forgets clients whose buckets have refilled (they are
// indistinguishable from new ones); if none has, it forgets an arbitrary
// half, so that memory stays bounded under an address-spraying flood.
func (l *rateLimiter) evictLocked(now time.Time, burst float64) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.cfg.PerSecond >= burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.cfg.MaxClients/2 {
			break
		}
		delete(l.buckets, k)
	}
}

// clientAddress is the address the rate limit and the per-client
// handshake cap are keyed by. Only a trusted proxy's X-Forwarded-For is
// believed, and only as far as it is appended by trusted proxies: walking
// the header from the right (the entry the direct peer wrote), each
// trusted entry vouches for the one to its left, and the first entry that
// is not a trusted proxy is the client. Anything left of it was chosen by
// that client and is never the key. When every entry is a trusted proxy
// (or the next one is not an address), the key is the last trusted entry
// reached short of the leftmost (which, with entries right of it, the
// client may have sent itself): over-broad trust such as 0.0.0.0/0 then
// degrades to the address the load balancer saw instead of one the client
// chose. An untrusted direct peer is the client itself.
func clientAddress(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	hops := forwardedFor(r)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		if !isTrusted(a, trusted) {
			return a.Unmap().String()
		}
		if i == 0 && len(hops) > 1 {
			// A leftmost entry left of other entries may be the client's
			// own invention even when it names a trusted address: stop at
			// the entry a proxy appended.
			break
		}
		client = a
	}
	return client.Unmap().String()
}

// forwardedFor returns the X-Forwarded-For entries, all header lines
// joined, in order.
func forwardedFor(r *http.Request) []string {
	var hops []string
	for _, line := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(line, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	return hops
}

// forwardedHTTPS reports whether a trusted proxy says the client reached
// it over https (X-Forwarded-Proto, profile 1.2's "public URL is https").
func forwardedHTTPS(r *http.Request, trusted []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return false
	}
	for _, line := range r.Header.Values("X-Forwarded-Proto") {
		for _, p := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "https") {
				return true
			}
		}
	}
	return false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
