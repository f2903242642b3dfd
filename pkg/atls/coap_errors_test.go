package atls

import (
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Every error of profile 7.5 with the input that draws it: the code, a
// diagnostic payload without Content-Format, and no change to the session
// table or the block-wise state.

func TestCoAPErrorsChangeNoState(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	r := h.raw(t)
	r.verify()
	_, hello := h.clientHello(t, ProtoOSCORE)

	// A live session, for the cases that need its location.
	a := r.send(rawMsg{path: atlsPath, cf: &cfATLS, payload: hello})
	if a.code != codes.Created || len(a.location) != 3 {
		t.Fatalf("first flight: %v %q", a.code, a.location)
	}
	sid := a.location[2]
	cfText := message.TextPlain
	forged := []byte(sid)
	forged[len(forged)-1] ^= 1

	cases := []struct {
		name string
		msg  rawMsg
		code codes.Code
	}{
		{"non-confirmable flight", rawMsg{typ: message.NonConfirmable, path: atlsPath, cf: &cfATLS, payload: hello}, codes.BadRequest},
		{"other resource", rawMsg{path: []string{".well-known", "core2"}, cf: &cfATLS, payload: hello}, codes.NotFound},
		{"forged session id", rawMsg{path: sessionPathOf(string(forged)), cf: &cfATLS, payload: hello}, codes.NotFound},
		{"garbage session id", rawMsg{path: sessionPathOf("not-a-sid"), cf: &cfATLS, payload: hello}, codes.NotFound},
		{"path below a session", rawMsg{path: append(sessionPathOf(sid), "x"), cf: &cfATLS, payload: hello}, codes.NotFound},
		{"forged sid with a bad method", rawMsg{code: codes.PUT, path: sessionPathOf(string(forged))}, codes.NotFound},
		{"GET on the resource", rawMsg{code: codes.GET, path: atlsPath}, codes.MethodNotAllowed},
		{"DELETE on the resource", rawMsg{code: codes.DELETE, path: atlsPath}, codes.MethodNotAllowed},
		{"PUT on a session", rawMsg{code: codes.PUT, path: sessionPathOf(sid), cf: &cfATLS, payload: hello}, codes.MethodNotAllowed},
		{"no Content-Format", rawMsg{path: atlsPath, payload: hello}, codes.UnsupportedMediaType},
		{"text/plain", rawMsg{path: atlsPath, cf: &cfText, payload: hello}, codes.UnsupportedMediaType},
		{"unknown critical option", rawMsg{path: atlsPath, cf: &cfATLS, payload: hello, extra: []message.Option{{ID: 2049, Value: []byte{1}}}}, codes.BadOption},
		{"Size1 over 64 KiB", rawMsg{path: atlsPath, cf: &cfATLS, size1: u32(MaxFlightSize + 1), block1: &blockOption{more: true, szx: 6}, payload: make([]byte, 1024)}, codes.RequestEntityTooLarge},
		{"block offset over 64 KiB", rawMsg{path: atlsPath, cf: &cfATLS, block1: &blockOption{num: 64, szx: 6}, payload: []byte{22}}, codes.RequestEntityTooLarge},
		{"block without its predecessors", rawMsg{path: atlsPath, cf: &cfATLS, block1: &blockOption{num: 3, more: true, szx: 4}, payload: make([]byte, 256)}, codes.RequestEntityIncomplete},
		{"BERT", rawMsg{path: atlsPath, cf: &cfATLS, block1: &blockOption{more: true, szx: 7}, payload: make([]byte, 1024)}, codes.BadRequest},
		{"short middle block", rawMsg{path: atlsPath, cf: &cfATLS, block1: &blockOption{more: true, szx: 4}, payload: make([]byte, 100)}, codes.BadRequest},
		{"not TLS records", rawMsg{path: atlsPath, cf: &cfATLS, payload: []byte("GET / HTTP/1.1\r\n\r\n")}, codes.BadRequest},
		{"empty first flight", rawMsg{path: atlsPath, cf: &cfATLS}, codes.BadRequest},
		{"not a ClientHello", rawMsg{path: atlsPath, cf: &cfATLS, payload: []byte{21, 3, 3, 0, 2, 2, 40}}, codes.BadRequest},
		{"malformed later flight", rawMsg{path: sessionPathOf(sid), cf: &cfATLS, payload: []byte{22, 3, 3, 0, 9, 1}}, codes.BadRequest},
		{"Block2 continuation of nothing", rawMsg{path: sessionPathOf(sid), cf: &cfATLS, block2: &blockOption{num: 5, szx: 2}}, codes.RequestEntityIncomplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, beforeBlocks := h.tableCounts(), h.coap.Stats()
			a := r.send(tc.msg)
			if a.code != tc.code {
				t.Fatalf("answer %v %q, want %v", a.code, a.payload, tc.code)
			}
			if len(a.payload) == 0 {
				t.Fatal("no diagnostic payload")
			}
			if a.contentFormat || len(a.location) > 0 {
				t.Fatalf("error with Content-Format or Location: %+v", a)
			}
			if tc.code == codes.RequestEntityTooLarge && !hasSize1(t, r.last, MaxFlightSize) {
				t.Fatal("4.13 without Size1 = 65536")
			}
			after, afterBlocks := h.tableCounts(), h.coap.Stats()
			if after != before {
				t.Fatalf("session table %v → %v", before, after)
			}
			if afterBlocks.Incoming != beforeBlocks.Incoming || afterBlocks.Outgoing != beforeBlocks.Outgoing {
				t.Fatalf("block-wise state %+v → %+v", beforeBlocks, afterBlocks)
			}
		})
	}

	// DELETE ends the session (2.02); a second DELETE and any flight to
	// the location are 4.04.
	if a := r.send(rawMsg{typ: message.Confirmable, code: codes.DELETE, path: sessionPathOf(sid)}); a.code != codes.Deleted {
		t.Fatalf("DELETE: %v %q", a.code, a.payload)
	}
	if h.tableCounts() != [2]int{0, 0} {
		t.Fatalf("table after DELETE %v", h.tableCounts())
	}
	if a := r.send(rawMsg{typ: message.Confirmable, code: codes.DELETE, path: sessionPathOf(sid)}); a.code != codes.NotFound {
		t.Fatalf("second DELETE: %v", a.code)
	}
	if a := r.send(rawMsg{typ: message.Confirmable, path: sessionPathOf(sid), cf: &cfATLS, payload: hello}); a.code != codes.NotFound {
		t.Fatalf("flight after DELETE: %v", a.code)
	}
}

// hasSize1 reports whether the datagram's Size1 option is want.
func hasSize1(t *testing.T, datagram []byte, want uint32) bool {
	t.Helper()
	m := decodeDatagram(t, datagram)
	v, err := m.GetOptionUint32(message.Size1)
	return err == nil && v == want
}

// A Block1 gap is 4.08 (7.2) and leaves no partial flight behind.
func TestCoAPBlock1Gap(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	r := h.raw(t)
	r.verify()
	_, hello := h.clientHello(t, ProtoOSCORE)
	a := r.send(rawMsg{typ: message.Confirmable, path: atlsPath, cf: &cfATLS, block1: &blockOption{num: 0, more: true, szx: 2}, size1: u32(uint32(len(hello))), payload: hello[:64]})
	if a.code != codes.Continue || a.block1 == nil || a.block1.num != 0 || !a.block1.more {
		t.Fatalf("block 0: %v %+v", a.code, a.block1)
	}
	if h.coap.Stats().Incoming != 1 {
		t.Fatal("block 0 not held")
	}
	a = r.send(rawMsg{typ: message.Confirmable, path: atlsPath, cf: &cfATLS, block1: &blockOption{num: 2, more: true, szx: 2}, payload: hello[128:192]})
	if a.code != codes.RequestEntityIncomplete {
		t.Fatalf("gap: %v %q", a.code, a.payload)
	}
	if h.tableCounts() != [2]int{0, 0} {
		t.Fatalf("table %v", h.tableCounts())
	}
}

// The server may ask for smaller blocks with 2.31 (RFC 7959 2.3); the
// flight then goes on at the offset reached.
func TestCoAPBlock1SizeReduction(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{BlockSize: 64})
	r := h.raw(t)
	r.verify()
	_, hello := h.clientHello(t, ProtoOSCORE)
	a := r.send(rawMsg{typ: message.Confirmable, path: atlsPath, cf: &cfATLS, block1: &blockOption{num: 0, more: true, szx: 4}, size1: u32(uint32(len(hello))), payload: hello[:256]})
	if a.code != codes.Continue || a.block1 == nil || a.block1.szx != 2 || a.block1.num != 0 {
		t.Fatalf("2.31: %v %+v", a.code, a.block1)
	}
	// Go on in 64-byte blocks from offset 256 (NUM 4).
	for off := 256; off < len(hello); off += 64 {
		end := min(off+64, len(hello))
		a = r.send(rawMsg{typ: message.Confirmable, path: atlsPath, cf: &cfATLS, block1: &blockOption{num: uint32(off / 64), more: end < len(hello), szx: 2}, payload: hello[off:end]})
	}
	if a.code != codes.Created || a.block2 == nil || a.block2.szx != 2 || !a.block2.more {
		t.Fatalf("answer: %v Block2 %+v", a.code, a.block2)
	}
}

// The 5.03 and 4.29 of 7.5 carry Max-Age, from the engine's Retry-After.
func TestCoAPCapacityAndRateLimit(t *testing.T) {
	t.Run("capacity", func(t *testing.T) {
		h := newCoAPHarness(t, func(c *ServerConfig) { c.MaxHandshakes = 1; c.RetryAfter = 3 * time.Second }, CoAPConfig{})
		r := h.raw(t)
		r.verify()
		_, hello1 := h.clientHello(t, ProtoOSCORE)
		_, hello2 := h.clientHello(t, ProtoOSCORE)
		if a := r.send(rawMsg{typ: message.Confirmable, path: atlsPath, cf: &cfATLS, payload: hello1}); a.code != codes.Created {
			t.Fatalf("first: %v", a.code)
		}
		before := h.tableCounts()
		a := r.send(rawMsg{typ: message.Confirmable, path: atlsPath, cf: &cfATLS, payload: hello2})
		if a.code != codes.ServiceUnavailable || a.maxAge == nil || *a.maxAge != 3 || len(a.payload) == 0 {
			t.Fatalf("second: %v Max-Age %v %q", a.code, a.maxAge, a.payload)
		}
		if h.tableCounts() != before {
			t.Fatal("refused session entered the table")
		}
	})
	t.Run("rate", func(t *testing.T) {
		h := newCoAPHarness(t, func(c *ServerConfig) { c.RateLimit = RateLimit{PerSecond: 0.5, Burst: 1} }, CoAPConfig{})
		r := h.raw(t)
		r.verify()
		_, hello1 := h.clientHello(t, ProtoOSCORE)
		_, hello2 := h.clientHello(t, ProtoOSCORE)
		if a := r.send(rawMsg{typ: message.Confirmable, path: atlsPath, cf: &cfATLS, payload: hello1}); a.code != codes.Created {
			t.Fatalf("first: %v", a.code)
		}
		before := h.tableCounts()
		a := r.send(rawMsg{typ: message.Confirmable, path: atlsPath, cf: &cfATLS, payload: hello2})
		if a.code != codes.TooManyRequests || a.maxAge == nil || *a.maxAge < 1 || len(a.payload) == 0 {
			t.Fatalf("second: %v Max-Age %v %q", a.code, a.maxAge, a.payload)
		}
		if h.tableCounts() != before {
			t.Fatal("refused session entered the table")
		}
	})
}
