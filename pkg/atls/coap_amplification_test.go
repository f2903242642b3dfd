package atls

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Profile 7.6: an unverified source gets at most three times what it sent
// until it has answered an Echo challenge.

// The spoofed-source probe: a ClientHello sent with someone else's source
// address draws only the small 4.01 challenge, which is all the victim
// receives, and no session is created.
func TestCoAPSpoofedSourceProbe(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	_, hello := h.clientHello(t, ProtoOSCORE)
	for _, tc := range []struct {
		name string
		msg  rawMsg
	}{
		{"unfragmented ClientHello", rawMsg{path: atlsPath, cf: &cfATLS, payload: hello}},
		{"block 0 of 16 bytes", rawMsg{path: atlsPath, cf: &cfATLS, block1: &blockOption{more: true, szx: 0}, size1: u32(uint32(len(hello))), payload: hello[:16]}},
		{"block 0 with a forged Echo", rawMsg{path: atlsPath, cf: &cfATLS, echo: make([]byte, echoLen), payload: hello}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			victim := h.raw(t) // the address the attacker writes as its source
			a := victim.send(tc.msg)
			if a.code != codes.Unauthorized || len(a.echo) == 0 || a.maxAge == nil || *a.maxAge != 0 {
				t.Fatalf("answer %v Echo %x Max-Age %v", a.code, a.echo, a.maxAge)
			}
			if victim.received > 3*victim.sent {
				t.Fatalf("amplification: %d bytes back for %d", victim.received, victim.sent)
			}
			if h.tableCounts() != [2]int{0, 0} || h.coap.Stats().Flights != 0 || h.coap.Stats().Incoming != 0 {
				t.Fatalf("an unverified source reached the engine: table %v, %+v", h.tableCounts(), h.coap.Stats())
			}
		})
	}
}

// The Echo value is bound to the source that was challenged, fresh for a
// minute, and a verified source stays verified for five minutes.
func TestCoAPEchoVerification(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	_, hello := h.clientHello(t, ProtoOSCORE)
	first := rawMsg{path: atlsPath, cf: &cfATLS, payload: hello}

	a, b := h.raw(t), h.raw(t)
	challenge := a.send(first)
	if challenge.code != codes.Unauthorized {
		t.Fatalf("challenge: %v", challenge.code)
	}
	// Another source cannot use A's Echo value.
	stolen := first
	stolen.echo = challenge.echo
	if got := b.send(stolen); got.code != codes.Unauthorized {
		t.Fatalf("B with A's Echo: %v", got.code)
	}
	if h.tableCounts() != [2]int{0, 0} {
		t.Fatal("stolen Echo created a session")
	}
	// A stale value is challenged again.
	h.clock.Advance(echoFreshness + time.Second)
	if got := a.send(stolen); got.code != codes.Unauthorized {
		t.Fatalf("stale Echo: %v", got.code)
	}
	fresh := a.send(first)
	stolen.echo = fresh.echo
	if got := a.send(stolen); got.code != codes.Created {
		t.Fatalf("A with its own Echo: %v %q", got.code, got.payload)
	}
	// Verified: A's next session needs no Echo for five minutes.
	_, hello2 := h.clientHello(t, ProtoOSCORE)
	if got := a.send(rawMsg{path: atlsPath, cf: &cfATLS, payload: hello2}); got.code != codes.Created {
		t.Fatalf("verified source: %v", got.code)
	}
	h.clock.Advance(VerifiedSourceLifetime + time.Second)
	_, hello3 := h.clientHello(t, ProtoOSCORE)
	if got := a.send(rawMsg{path: atlsPath, cf: &cfATLS, payload: hello3}); got.code != codes.Unauthorized {
		t.Fatalf("after five minutes: %v", got.code)
	}
}

// Profile 7.4: a duplicate Confirmable message (same source, same message
// ID) is answered from the exchange cache and not fed to TLS again.
func TestCoAPDuplicateMessageID(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	r := h.raw(t)
	r.verify()
	_, hello := h.clientHello(t, ProtoOSCORE)
	datagram := r.encode(rawMsg{path: atlsPath, cf: &cfATLS, payload: hello})
	a := r.sendBytes(datagram)
	if a.code != codes.Created {
		t.Fatalf("first: %v", a.code)
	}
	answer := r.last
	flights, table := h.coap.Stats().Flights, h.tableCounts()
	for range 3 {
		r.retransmit(datagram)
		if string(r.last) != string(answer) {
			t.Fatal("duplicate got a different answer")
		}
	}
	if h.coap.Stats().Flights != flights || h.tableCounts() != table {
		t.Fatalf("duplicate reached the engine: flights %d → %d, table %v → %v", flights, h.coap.Stats().Flights, table, h.tableCounts())
	}
}

// The binding's own cache answers where go-coap's per-connection cache
// no longer would (its connection state is dropped after 16 s of
// inactivity), for EXCHANGE_LIFETIME on the server's clock.
func TestCoAPExchangeCacheLifetime(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	_, hello := h.clientHello(t, ProtoOSCORE)
	source := netip.MustParseAddrPort("192.0.2.7:5683")
	h.coap.echo.accept(h.coap.echo.challenge(source.String(), h.clock.Now()), source.String(), h.clock.Now())
	req := &coapRequest{typ: message.Confirmable, code: codes.POST, mid: 77, path: atlsPath, contentFormat: int(ContentFormatATLS), payload: hello}
	first := h.coap.serve(context.Background(), source, req)
	if first.code != codes.Created {
		t.Fatalf("first: %v %q", first.code, first.payload)
	}
	h.clock.Advance(ExchangeLifetime - time.Second)
	if again := h.coap.serve(context.Background(), source, req); again != first || h.coap.Stats().Flights != 1 {
		t.Fatalf("duplicate within EXCHANGE_LIFETIME not answered from the cache (flights %d)", h.coap.Stats().Flights)
	}
	// Another source with the same message ID is another exchange.
	other := netip.MustParseAddrPort("192.0.2.8:5683")
	if a := h.coap.serve(context.Background(), other, req); a.code != codes.Unauthorized {
		t.Fatalf("other source: %v", a.code)
	}
	h.clock.Advance(2 * time.Second)
	h.coap.echo.accept(h.coap.echo.challenge(source.String(), h.clock.Now()), source.String(), h.clock.Now())
	h.coap.serve(context.Background(), source, req)
	if h.coap.Stats().Flights != 2 {
		t.Fatal("a message after EXCHANGE_LIFETIME was not processed again")
	}
}

// A flight over 64 KiB is refused with 4.13 and Size1 = 65536 as soon as
// an offset shows it (7.2), even without Size1, and nothing is kept.
func TestCoAPFlightTooLarge(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	r := h.raw(t)
	r.verify()
	_, hello := h.clientHello(t, ProtoOSCORE)
	flight := make([]byte, MaxFlightSize+100)
	copy(flight, hello)
	flights := h.coap.Stats().Flights
	a := r.sendBlocks(atlsPath, flight, 6, nil)
	if a.code != codes.RequestEntityTooLarge || !hasSize1(t, r.last, MaxFlightSize) {
		t.Fatalf("answer %v %q", a.code, a.payload)
	}
	if h.coap.Stats().Incoming != 0 || h.tableCounts() != [2]int{0, 0} || h.coap.Stats().Flights != flights {
		t.Fatalf("state after 4.13: %+v, table %v", h.coap.Stats(), h.tableCounts())
	}

	// Landfall's client reports it as a CoAPStatusError before sending
	// more than the first block (its Size1 says how large the flight is).
	c := h.coapClient(ProtoOSCORE)
	conn := newTestCarrier(t, c)
	_, err := conn.sendFlight(context.Background(), atlsPath, flight)
	if se, ok := err.(*CoAPStatusError); !ok || se.Code != codes.RequestEntityTooLarge {
		t.Fatalf("client: %v", err)
	}
}

// Error answers to an unverified source stay within three times the
// request too: a reason is shortened rather than amplify a tiny datagram.
func TestCoAPErrorsWithinAmplificationLimit(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	for _, tc := range []struct {
		name string
		msg  rawMsg
	}{
		{"empty POST", rawMsg{}},
		{"GET", rawMsg{code: codes.GET, path: atlsPath}},
		{"no Content-Format", rawMsg{path: atlsPath}},
		{"forged session", rawMsg{code: codes.DELETE, path: sessionPathOf("AAAA")}},
		{"lone block", rawMsg{path: atlsPath, cf: &cfATLS, block1: &blockOption{num: 1, szx: 0}, payload: []byte{1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.raw(t)
			a := r.send(tc.msg)
			if a.code>>5 == 2 {
				t.Fatalf("answer %v", a.code)
			}
			if r.received > 3*r.sent {
				t.Fatalf("%v: %d bytes back for %d", a.code, r.received, r.sent)
			}
		})
	}
}
