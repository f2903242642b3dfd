package atls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// OSCORE natively over CoAP (profile 7.8): Landfall's client and server
// over UDP on loopback, and hand-built requests for what a well-behaved
// client never sends.

// newOSCORECoAPHarness is a CoAP harness whose server keeps the exported
// contexts in store (a new one when nil), as a replica keeps them in the
// shared database.
func newOSCORECoAPHarness(t testing.TB, store *oscore.MemoryStore, ccfg CoAPConfig) (*coapHarness, *oscore.MemoryStore) {
	t.Helper()
	if store == nil {
		store = &oscore.MemoryStore{}
	}
	h := newCoAPHarness(t, func(c *ServerConfig) { c.Sink = nil; c.Contexts = store }, ccfg)
	if store.Now == nil {
		store.Now = h.clock.Now
	}
	return h, store
}

// oscoreSession runs a key-export handshake over CoAP.
func oscoreSession(t testing.TB, h *coapHarness, blockSize int) *ClientSession {
	t.Helper()
	c := h.coapClient(ProtoOSCORE)
	c.BlockSize = blockSize
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close(context.Background()) })
	return sess
}

// window is the replay window the store holds for kid.
func window(t testing.TB, store *oscore.MemoryStore, kid []byte) oscore.ReplayWindow {
	t.Helper()
	sc, err := store.Get(context.Background(), kid)
	if err != nil {
		t.Fatal(err)
	}
	return sc.Window
}

func TestCoAPOSCORERoundTrip(t *testing.T) {
	for _, bs := range []int{1024, 64} {
		t.Run(fmt.Sprintf("block%d", bs), func(t *testing.T) {
			h, store := newOSCORECoAPHarness(t, nil, CoAPConfig{})
			sess := oscoreSession(t, h, bs)
			tr, err := sess.Transport()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tr.(*coapOSCORETransport); !ok {
				t.Fatalf("a CoAP session's transport is %T", tr)
			}
			hc := &http.Client{Transport: tr}
			// 64-byte blocks: the protected request goes as outer Block1,
			// the protected answer comes back as outer Block2.
			body := strings.Repeat("x", 3*bs/2+7)
			for i := range 3 {
				resp, err := hc.Post("coap://registrar.example/.well-known/brski/vs?n="+fmt.Sprint(i), "application/cbor", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				want := fmt.Sprintf("pledge-0001 POST /.well-known/brski/vs?n=%d %s", i, body)
				if resp.StatusCode != 200 || string(got) != want {
					t.Fatalf("%d %q, want %q", resp.StatusCode, got, want)
				}
			}
			w := window(t, store, sess.Exported().SenderID)
			for piv := range uint64(3) {
				if !w.Seen(piv) {
					t.Fatalf("Partial IV %d not marked in the store", piv)
				}
			}
			if w.Seen(3) {
				t.Fatal("a Partial IV never sent is marked")
			}
			st := h.coap.Stats()
			if st.Incoming != 0 {
				t.Fatalf("Block1 state left behind: %+v", st)
			}
			if bs == 64 && st.Outgoing == 0 {
				t.Fatal("no protected answer went out as Block2")
			}
		})
	}
}

// rawOSCORE protects one inner request with a context of the client's
// keys starting at sequence number seq, for hand-built messages.
func rawOSCORE(t testing.TB, sess *ClientSession, seq uint64, method, target string, body []byte) (opt, ct []byte, c *oscore.Context, st *oscore.RequestState) {
	t.Helper()
	c, err := oscore.NewContext(sess.Exported().Params())
	if err != nil {
		t.Fatal(err)
	}
	c.SetSequence(seq)
	req, _ := http.NewRequest(method, "coap://registrar.example"+target, bytes.NewReader(body))
	msg, err := oscore.RequestToMessage(req, body)
	if err != nil {
		t.Fatal(err)
	}
	opt, ct, st, err = c.ProtectRequest(msg.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return opt, ct, c, st
}

func oscoreOpt(v []byte) []message.Option { return []message.Option{{ID: OptOSCORE, Value: v}} }

func TestCoAPOSCORERefusalsChangeNothing(t *testing.T) {
	h, store := newOSCORECoAPHarness(t, nil, CoAPConfig{})
	sess := oscoreSession(t, h, 1024)
	kid := sess.Exported().SenderID
	r := h.raw(t)
	r.verify()

	// A first request marks Partial IV 5, so that a replay can be sent.
	opt, ct, _, _ := rawOSCORE(t, sess, 5, http.MethodGet, "/.well-known/core", nil)
	if a := r.send(rawMsg{code: codes.POST, extra: oscoreOpt(opt), payload: ct}); a.code != codes.Changed || !a.hasOSCORE || len(a.oscore) != 0 {
		t.Fatalf("valid request: %v OSCORE %v %x: %q", a.code, a.hasOSCORE, a.oscore, a.payload)
	}
	before := window(t, store, kid)
	if !before.Seen(5) {
		t.Fatal("Partial IV 5 not marked")
	}

	fresh, freshCT, _, _ := rawOSCORE(t, sess, 9, http.MethodGet, "/.well-known/core", nil)
	tampered := bytes.Clone(freshCT)
	tampered[len(tampered)-1] ^= 1
	unknown, _ := oscore.ParseOption(fresh)
	unknown.KID = []byte{0xEE, 0xEE}
	cases := []struct {
		name    string
		code    codes.Code
		opt     []byte
		payload []byte
		reason  string
	}{
		{"malformed option", codes.POST, []byte{0xFF}, freshCT, "Failed to decode COSE"},
		{"no kid", codes.POST, []byte{0x01, 0x09}, freshCT, "Failed to decode COSE"},
		{"no ciphertext", codes.POST, fresh, nil, "Failed to decode COSE"},
		{"unknown kid", codes.POST, unknown.Marshal(), freshCT, "Security context not found"},
		{"replay", codes.POST, opt, ct, "Replay detected"},
		{"tampered", codes.POST, fresh, tampered, "Decryption failed"},
		{"outer GET", codes.GET, fresh, freshCT, "an OSCORE request's outer code is POST or FETCH, not GET"},
	}
	want := map[string]codes.Code{"Failed to decode COSE": codes.BadOption, "Security context not found": codes.Unauthorized,
		"Replay detected": codes.Unauthorized, "Decryption failed": codes.BadRequest}
	for _, c := range cases {
		a := r.send(rawMsg{code: c.code, extra: oscoreOpt(c.opt), payload: c.payload})
		code, ok := want[c.reason]
		if !ok {
			code = codes.MethodNotAllowed
		}
		if a.code != code || string(a.payload) != c.reason || a.hasOSCORE || a.maxAge == nil || *a.maxAge != 0 {
			t.Errorf("%s: %v %q (OSCORE option %v, Max-Age %v), want %v %q unprotected with Max-Age 0", c.name, a.code, a.payload, a.hasOSCORE, a.maxAge, code, c.reason)
		}
		if got := window(t, store, kid); got != before {
			t.Fatalf("%s changed the replay window: %+v, was %+v", c.name, got, before)
		}
	}
	// The refused fresh Partial IV is still usable.
	if a := r.send(rawMsg{code: codes.POST, extra: oscoreOpt(fresh), payload: freshCT}); a.code != codes.Changed {
		t.Fatalf("fresh request after the refusals: %v %q", a.code, a.payload)
	}
}

func TestCoAPOSCOREDuplicateAnsweredFromCache(t *testing.T) {
	h, store := newOSCORECoAPHarness(t, nil, CoAPConfig{})
	sess := oscoreSession(t, h, 1024)
	kid := sess.Exported().SenderID
	r := h.raw(t)
	opt, ct, c, st := rawOSCORE(t, sess, 0, http.MethodPost, "/.well-known/brski/vs", []byte{0xA0})
	datagram := r.encode(rawMsg{typ: message.Confirmable, code: codes.POST, mid: 0x4242, extra: oscoreOpt(opt), payload: ct})
	first := r.sendBytes(datagram)
	firstBytes := bytes.Clone(r.last)
	second := r.retransmit(datagram)
	if first.code != codes.Changed || second.code != codes.Changed || !bytes.Equal(firstBytes, r.last) {
		t.Fatalf("duplicate answered %v %q, first %v", second.code, second.payload, first.code)
	}
	pt, err := c.UnprotectResponse(st, second.oscore, second.payload)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := oscore.UnmarshalMessage(pt)
	if err != nil || inner.Code != oscore.Changed || !bytes.Contains(inner.Payload, []byte("POST /.well-known/brski/vs")) {
		t.Fatalf("inner answer %+v %v", inner, err)
	}
	w := window(t, store, kid)
	if !w.Seen(0) || w.Seen(1) {
		t.Fatalf("window after a duplicate %+v", w)
	}
	// The same protected request in a new exchange is a replay.
	if a := r.send(rawMsg{code: codes.POST, extra: oscoreOpt(opt), payload: ct}); a.code != codes.Unauthorized || string(a.payload) != "Replay detected" {
		t.Fatalf("replay in a new exchange: %v %q", a.code, a.payload)
	}
}

func TestCoAPOSCORETooLarge(t *testing.T) {
	h, store := newOSCORECoAPHarness(t, nil, CoAPConfig{})
	sess := oscoreSession(t, h, 1024)
	before := window(t, store, sess.Exported().SenderID)
	r := h.raw(t)
	r.verify()
	opt, ct, _, _ := rawOSCORE(t, sess, 0, http.MethodPost, "/x", bytes.Repeat([]byte{1}, 64))
	a := r.send(rawMsg{code: codes.POST, extra: oscoreOpt(opt), block1: &blockOption{more: true, szx: 2}, size1: u32(MaxFlightSize + 1), payload: ct[:64]})
	if a.code != codes.RequestEntityTooLarge {
		t.Fatalf("Size1 beyond 64 KiB: %v %q", a.code, a.payload)
	}
	if window(t, store, sess.Exported().SenderID) != before || h.coap.Stats().Incoming != 0 {
		t.Fatal("a refused transfer left state behind")
	}
}

// TestCoAPOSCOREContextSharedByReplicas: a context one server exported is
// used, through the shared store, by another server that never saw the
// handshake, as two replicas do; the replay window is the store's.
func TestCoAPOSCOREContextSharedByReplicas(t *testing.T) {
	a, store := newOSCORECoAPHarness(t, nil, CoAPConfig{})
	b, _ := newOSCORECoAPHarness(t, store, CoAPConfig{})
	sess := oscoreSession(t, a, 1024)
	toB := &coapOSCORETransport{carrier: newTestCarrier(t, b.coapClient()), ctx: mustContext(t, sess)}
	hc := &http.Client{Transport: toB}
	resp, err := hc.Post("coap://r.example/.well-known/brski/es", "application/cbor", strings.NewReader("done"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(resp.Body); string(got) != "pledge-0001 POST /.well-known/brski/es done" {
		t.Fatalf("through the second server: %q", got)
	}
	// The Partial IV B marked is a replay at A.
	toA, _ := sess.Transport()
	_, err = (&http.Client{Transport: toA}).Get("coap://r.example/.well-known/core")
	var se *CoAPStatusError
	if !errorsAs(err, &se) || se.Code != codes.Unauthorized || se.Reason != "Replay detected" {
		t.Fatalf("Partial IV 0 again at the first server: %v", err)
	}
}

func mustContext(t *testing.T, sess *ClientSession) *oscore.Context {
	t.Helper()
	c, err := oscore.NewContext(sess.Exported().Params())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCoAPOSCOREBlock2RunsOnce: a protected answer larger than a block is
// fetched in outer Block2 continuations cut from the answer kept for
// them; the inner handler runs once per request, and FETCH is accepted as
// the outer code.
func TestCoAPOSCOREBlock2RunsOnce(t *testing.T) {
	store := &oscore.MemoryStore{}
	var runs atomic.Int64
	h := newCoAPHarness(t, func(c *ServerConfig) {
		c.Sink, c.Contexts = nil, store
		c.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			runs.Add(1)
			echoHandler.ServeHTTP(w, r)
		})
	}, CoAPConfig{BlockSize: 64})
	store.Now = h.clock.Now
	sess := oscoreSession(t, h, 1024)
	r := h.raw(t)
	body := bytes.Repeat([]byte("y"), 300)
	opt, ct, c, st := rawOSCORE(t, sess, 0, http.MethodPost, "/big", body)
	first := r.send(rawMsg{code: codes.FETCH, extra: oscoreOpt(opt), block1: &blockOption{more: true, szx: 2}, payload: ct[:64], size1: u32(uint32(len(ct)))})
	off := 64
	for first.code == codes.Continue {
		end := min(off+64, len(ct))
		first = r.send(rawMsg{code: codes.FETCH, extra: oscoreOpt(opt), block1: &blockOption{num: uint32(off / 64), more: end < len(ct), szx: 2}, payload: ct[off:end]})
		off = end
	}
	if first.code != codes.Changed || first.block2 == nil || !first.block2.more {
		t.Fatalf("first answer %v %+v %q", first.code, first.block2, first.payload)
	}
	protected := bytes.Clone(first.payload)
	for b := first.block2; b.more; {
		a := r.send(rawMsg{code: codes.FETCH, extra: oscoreOpt(opt), block2: &blockOption{num: uint32(len(protected) / b.size()), szx: b.szx}})
		if a.code != codes.Changed || a.block2 == nil || !a.hasOSCORE {
			t.Fatalf("continuation %v %+v %q", a.code, a.block2, a.payload)
		}
		protected = append(protected, a.payload...)
		b = a.block2
	}
	pt, err := c.UnprotectResponse(st, nil, protected)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := oscore.UnmarshalMessage(pt)
	if err != nil || !bytes.HasSuffix(inner.Payload, body) {
		t.Fatalf("inner answer %v %q", err, inner.Payload)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("the inner handler ran %d times for one request", n)
	}
}

// failingStore is a context store whose MarkSeen fails while down.
type failingStore struct {
	*oscore.MemoryStore
	down atomic.Bool
}

func (s *failingStore) MarkSeen(ctx context.Context, kid []byte, piv uint64) error {
	if s.down.Load() {
		return errors.New("connection refused")
	}
	return s.MemoryStore.MarkSeen(ctx, kid, piv)
}

// TestCoAPOSCOREStoreUnavailable: when the replay window cannot be
// marked, the request is not run and is answered 5.03 with Max-Age; the
// same request succeeds once the store is back.
func TestCoAPOSCOREStoreUnavailable(t *testing.T) {
	store := &failingStore{MemoryStore: &oscore.MemoryStore{}}
	var runs atomic.Int64
	h := newCoAPHarness(t, func(c *ServerConfig) {
		c.Sink, c.Contexts = nil, store
		c.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs.Add(1) })
	}, CoAPConfig{})
	store.Now = h.clock.Now
	sess := oscoreSession(t, h, 1024)
	r := h.raw(t)
	r.verify()
	opt, ct, _, _ := rawOSCORE(t, sess, 0, http.MethodPost, "/x", []byte{1})
	store.down.Store(true)
	a := r.send(rawMsg{code: codes.POST, extra: oscoreOpt(opt), payload: ct})
	if a.code != codes.ServiceUnavailable || a.maxAge == nil || *a.maxAge == 0 || a.hasOSCORE || runs.Load() != 0 {
		t.Fatalf("store down: %v %q Max-Age %v, %d runs", a.code, a.payload, a.maxAge, runs.Load())
	}
	if window(t, store.MemoryStore, sess.Exported().SenderID).Seen(0) {
		t.Fatal("Partial IV marked while the store was down")
	}
	store.down.Store(false)
	if a := r.send(rawMsg{code: codes.POST, extra: oscoreOpt(opt), payload: ct}); a.code != codes.Changed || runs.Load() != 1 {
		t.Fatalf("store back: %v %q, %d runs", a.code, a.payload, runs.Load())
	}
}
