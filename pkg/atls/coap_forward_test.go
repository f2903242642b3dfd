package atls

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
)

func TestParseProxyHeader(t *testing.T) {
	for _, tc := range []struct {
		in     string
		source string
		rest   string
	}{
		{"PROXY TCP4 192.0.2.7 127.0.0.1 40000 5683\r\n\x40\x02", "192.0.2.7:40000", "\x40\x02"},
		{"PROXY TCP6 2001:db8::1 ::1 5684 5683\r\nX", "[2001:db8::1]:5684", "X"},
		{"PROXY UDP4 ::ffff:192.0.2.8 127.0.0.1 1 5683\r\n", "192.0.2.8:1", ""},
	} {
		src, rest, err := parseProxyHeader([]byte(tc.in))
		if err != nil || src.String() != tc.source || string(rest) != tc.rest {
			t.Errorf("%q: %v %q %v, want %s %q", tc.in, src, rest, err, tc.source, tc.rest)
		}
	}
	for _, in := range []string{
		"",
		"\x40\x02\x00\x01",
		"PROXY TCP4 192.0.2.7 127.0.0.1 40000 5683", // no CRLF
		"PROXY UNKNOWN\r\n",
		"PROXY TCP4 192.0.2.7 127.0.0.1 70000 5683\r\n",
		"PROXY TCP4 not-an-ip 127.0.0.1 1 5683\r\n",
		"PROXY TCP4 192.0.2.7 127.0.0.1 1\r\n",
		"PROXY TCP4 192.0.2.7 127.0.0.1 1 5683 " + string(make([]byte, 120)) + "\r\n", // longer than a v1 line
	} {
		if _, _, err := parseProxyHeader([]byte(in)); !errors.Is(err, errProxyHeader) {
			t.Errorf("%q: %v, want errProxyHeader", in, err)
		}
	}
}

func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.7 127.0.0.1 40000 5683\r\n\x40"))
	f.Add([]byte("PROXY TCP6 ::1 ::1 1 2\r\n"))
	f.Fuzz(func(t *testing.T, d []byte) {
		src, rest, err := parseProxyHeader(d)
		if err != nil {
			return
		}
		if !src.IsValid() || len(rest) >= len(d) {
			t.Fatalf("%q: source %v, rest of %d bytes", d, src, len(rest))
		}
	})
}

// Rendezvous hashing: every replica with the same list picks the same home
// whatever the list's order, the keys spread over the replicas, and a
// replica leaving moves only the keys it was home to.
func TestRendezvous(t *testing.T) {
	ids := []string{"a", "b", "c"}
	rev := []string{"c", "b", "a"}
	homes := map[string]int{}
	for i := range 300 {
		key := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(1000+i)).String()
		h := rendezvous(key, ids, "")
		if h2 := rendezvous(key, rev, ""); h2 != h {
			t.Fatalf("%s: %s in one order, %s in the other", key, h, h2)
		}
		homes[h]++
		if h != "b" {
			if h3 := rendezvous(key, []string{"a", "c"}, ""); h3 != h {
				t.Fatalf("%s: home %s moved to %s when b left", key, h, h3)
			}
		}
		if got := rendezvous(key, ids, h); got != "" {
			t.Fatalf("%s: the home itself is told %q, want \"\" (serve here)", key, got)
		}
	}
	for _, id := range ids {
		if homes[id] < 50 {
			t.Fatalf("keys per home %v: %s has too few", homes, id)
		}
	}
	if got := rendezvous("x", nil, "self"); got != "" {
		t.Fatalf("no replicas listed: %q, want this one", got)
	}
}

// The messages of one client endpoint are served one at a time, and the
// lock of an endpoint is forgotten once no message of it is served.
func TestSourceLocks(t *testing.T) {
	var s sourceLocks
	src := netip.MustParseAddrPort("192.0.2.1:5683")
	inside, most := 0, 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := s.lock(src)
			mu.Lock()
			inside++
			most = max(most, inside)
			mu.Unlock()
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if most != 1 {
		t.Fatalf("%d messages of one endpoint served at once", most)
	}
	if len(s.m) != 0 {
		t.Fatalf("%d locks left", len(s.m))
	}
}
