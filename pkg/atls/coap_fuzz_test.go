package atls

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// Fuzz targets for the inputs of the CoAP binding (profile 7): whole
// messages, block options and Location paths. Whatever the bytes, the
// answer is one of the profile's codes, and only a 2.01 adds a session and
// only a 2.31 holds a partial flight.

// coapAnswerCodes are the codes the binding answers with (7.3, 7.5).
var coapAnswerCodes = map[codes.Code]bool{
	codes.Created: true, codes.Changed: true, codes.Deleted: true, codes.Continue: true,
	codes.BadRequest: true, codes.Unauthorized: true, codes.Forbidden: true, codes.NotFound: true,
	codes.MethodNotAllowed: true, codes.RequestEntityIncomplete: true, codes.RequestEntityTooLarge: true,
	codes.UnsupportedMediaType: true, codes.TooManyRequests: true, codes.ServiceUnavailable: true,
	codes.GatewayTimeout: true,
}

// fuzzSource is the fuzzer's client; it is verified up front, so that
// the inputs reach the block-wise layer and the engine.
var fuzzSource = netip.MustParseAddrPort("198.51.100.9:40000")

func newFuzzCoAP(f *testing.F) *coapHarness {
	h := &coapHarness{harness: newHarness(f, nil)}
	c, err := NewCoAPServer(h.srv, CoAPConfig{BlockSize: 64})
	if err != nil {
		f.Fatal(err)
	}
	h.coap = c
	now := h.clock.Now()
	c.echo.accept(c.echo.challenge(fuzzSource.String(), now), fuzzSource.String(), now)
	return h
}

func encodeForFuzz(f *testing.F, m rawMsg) []byte {
	r := &rawCoAP{t: f, mid: 0x2000}
	return r.encode(m)
}

func FuzzCoAPMessage(f *testing.F) {
	h := newFuzzCoAP(f)
	_, hello := h.clientHello(f, ProtoOSCORE)
	sid, err := h.srv.sids.mint("r1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeForFuzz(f, rawMsg{path: atlsPath, cf: &cfATLS, payload: hello}))
	f.Add(encodeForFuzz(f, rawMsg{path: atlsPath, cf: &cfATLS, block1: &blockOption{more: true, szx: 2}, size1: u32(uint32(len(hello))), payload: hello[:64]}))
	f.Add(encodeForFuzz(f, rawMsg{path: atlsPath, cf: &cfATLS, block1: &blockOption{num: 1, szx: 2}, payload: hello[64:100]}))
	f.Add(encodeForFuzz(f, rawMsg{path: atlsPath, cf: &cfATLS, block2: &blockOption{num: 2, szx: 1}}))
	f.Add(encodeForFuzz(f, rawMsg{code: codes.DELETE, path: sessionPathOf(sid)}))
	f.Add(encodeForFuzz(f, rawMsg{path: sessionPathOf(sid), cf: &cfATLS, payload: []byte{21, 3, 3, 0, 2, 2, 40}}))
	f.Add(encodeForFuzz(f, rawMsg{typ: message.NonConfirmable, path: atlsPath, cf: &cfATLS, payload: hello}))
	f.Add([]byte{0x40, 0x02, 0x12, 0x34})
	f.Fuzz(func(t *testing.T, datagram []byte) {
		m := pool.NewMessage(context.Background())
		if _, err := m.UnmarshalWithDecoder(coder.DefaultCoder, datagram); err != nil {
			return // go-coap drops what it cannot parse; the handler never sees it
		}
		before, beforeBlocks := h.tableCounts(), h.coap.Stats()
		req, err := parseCoAPRequest(m)
		if err != nil {
			return // answered 4.00 by Handle
		}
		a := h.coap.serve(context.Background(), fuzzSource, req)
		if !coapAnswerCodes[a.code] {
			t.Fatalf("answer code %v", a.code)
		}
		after, afterBlocks := h.tableCounts(), h.coap.Stats()
		if after[1] > before[1] && a.code != codes.Created {
			t.Fatalf("session added by a %v answer", a.code)
		}
		if afterBlocks.Incoming > beforeBlocks.Incoming && a.code != codes.Continue {
			t.Fatalf("partial flight held after a %v answer", a.code)
		}
		if a.code>>5 != 2 && (a.contentFormat || len(a.location) > 0 || len(a.payload) == 0) {
			t.Fatalf("error %v with Content-Format, Location or no diagnostic", a.code)
		}
		if a.code == codes.Created && (len(a.location) != 3 || !a.contentFormat) {
			t.Fatalf("2.01 with Location-Path %q", a.location)
		}
		h.srv.Close() // end what the input started, so that inputs stay independent
	})
}

func FuzzCoAPBlockOption(f *testing.F) {
	for _, v := range []uint32{0, 0x08, 0x0e, 0x0f, 0x1e, 0xfffff6, 0xffffff, 0x1000000} {
		f.Add(v, uint16(100))
	}
	f.Fuzz(func(t *testing.T, v uint32, payloadLen uint16) {
		b, err := decodeBlock(v)
		if err != nil {
			if v <= 0xffffff && v&7 != 7 {
				t.Fatalf("refused %#x: %v", v, err)
			}
			return
		}
		if b.encode() != v || b.size() < 16 || b.size() > 1024 {
			t.Fatalf("%#x decoded as %+v", v, b)
		}
		payload := make([]byte, payloadLen)
		part, more, ok := block2Slice(payload, b)
		if ok && (len(part) > b.size() || more != (b.offset()+len(part) < len(payload))) {
			t.Fatalf("block %+v of %d bytes: %d bytes, more %v", b, payloadLen, len(part), more)
		}
		if !ok && b.offset() < len(payload) {
			t.Fatalf("block %+v refused within %d bytes", b, payloadLen)
		}
	})
}

// FuzzCoAPLocationPath: any path but the resource itself or a session id
// this server minted is 4.04 before anything else (7.3).
func FuzzCoAPLocationPath(f *testing.F) {
	h := newFuzzCoAP(f)
	sid, err := h.srv.sids.mint("r1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(".well-known/atls")
	f.Add(".well-known/atls/" + sid)
	f.Add(".well-known/atls/" + sid + "/x")
	f.Add(".well-known/atls/" + sid[:len(sid)-1] + "A")
	f.Add(".well-known//atls")
	f.Add("")
	f.Fuzz(func(t *testing.T, path string) {
		segs := strings.Split(path, "/")
		req := &coapRequest{typ: message.Confirmable, code: codes.PUT, mid: 1, path: segs, contentFormat: int(ContentFormatATLS)}
		a := h.coap.dispatch(context.Background(), fuzzSource, req, h.clock.Now())
		rest, under := h.coap.underResource(segs)
		valid := under && (len(rest) == 0 || len(rest) == 1 && sidValid(h.srv, rest[0]))
		if valid == (a.code == codes.NotFound) {
			t.Fatalf("path %q (valid %v) answered %v", path, valid, a.code)
		}
		if h.tableCounts() != [2]int{0, 0} {
			t.Fatal("a path created a session")
		}
	})
}

// sidValid reports whether sid passes the integrity check of 1.4.
func sidValid(s *Server, sid string) bool {
	_, err := s.sids.owner(sid)
	return err == nil
}
