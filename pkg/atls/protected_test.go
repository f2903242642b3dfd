package atls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// newProtectedHarness is a harness whose server keeps contexts in an
// oscore.MemoryStore and serves protected requests.
func newProtectedHarness(t *testing.T) (*harness, *oscore.MemoryStore) {
	store := &oscore.MemoryStore{}
	h := newHarness(t, func(c *ServerConfig) {
		c.Sink = nil
		c.Contexts = store
	})
	store.Now = h.clock.Now
	return h, store
}

// TestProtectedModesEndToEnd runs an unchanged http.Client over ATLS in
// each mode: the inner handler sees the pledge's certificate, bodies and
// query strings survive, and status codes map back.
func TestProtectedModesEndToEnd(t *testing.T) {
	for _, proto := range []string{ProtoOSCORE, ProtoCOSE, ProtoRecords} {
		t.Run(proto, func(t *testing.T) {
			h, _ := newProtectedHarness(t)
			sess, err := h.client(proto).Handshake(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if sess.Protocol() != proto {
				t.Fatalf("negotiated %s", sess.Protocol())
			}
			if proto != ProtoRecords && sess.Exported().Suite.Suite != goSuites()[0] {
				t.Fatalf("suite %#04x", sess.Exported().Suite.Suite)
			}
			tr, err := sess.Transport()
			if err != nil {
				t.Fatal(err)
			}
			hc := &http.Client{Transport: tr}
			for i := range 3 {
				body := fmt.Sprintf("request %d", i)
				resp, err := hc.Post("https://registrar.example/.well-known/brski/requestvoucher?a=1&b=x%20y", "text/plain; charset=utf-8", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(resp.Body)
				// OSCORE percent-decodes the query into Uri-Query options
				// and re-encodes them as RFC 7252 6.5 rebuilds a URI.
				want := "pledge-0001 POST /.well-known/brski/requestvoucher?a=1&b=x%20y " + body
				if resp.StatusCode != 200 || string(got) != want {
					t.Fatalf("%d %q, want %q", resp.StatusCode, got, want)
				}
			}
			resp, err := hc.Get("https://registrar.example/")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := io.ReadAll(resp.Body); string(got) != "pledge-0001 GET / " {
				t.Fatalf("GET /: %q", got)
			}
		})
	}
}

// statusHandler answers with the status named by the path, for the status
// mapping through OSCORE (profile 5.5).
var statusHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	var code int
	fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/"), "%d", &code)
	if code == http.StatusAccepted {
		w.Header().Set("Retry-After", "7")
	}
	if code == http.StatusCreated {
		w.Header().Set("Location", "/things/1?x=2")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code != http.StatusNoContent {
		w.Write([]byte(`{}`))
	}
})

func TestOSCOREStatusMapping(t *testing.T) {
	store := &oscore.MemoryStore{}
	h := newHarness(t, func(c *ServerConfig) { c.Sink = nil; c.Contexts = store; c.Handler = statusHandler })
	store.Now = h.clock.Now
	sess, err := h.client(ProtoOSCORE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := sess.Transport()
	hc := &http.Client{Transport: tr}
	cases := []struct {
		in, out    int
		retryAfter string
		location   string
	}{
		{200, 200, "", ""}, {201, 201, "", "/things/1?x=2"}, {202, 503, "7", ""}, {204, 200, "", ""},
		{400, 400, "", ""}, {403, 403, "", ""}, {404, 404, "", ""}, {406, 406, "", ""}, {409, 400, "", ""},
		{415, 415, "", ""}, {500, 500, "", ""}, {501, 500, "", ""}, {503, 503, "", ""},
	}
	for _, c := range cases {
		resp, err := hc.Post(fmt.Sprintf("https://r.example/%d", c.in), "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != c.out || resp.Header.Get("Retry-After") != c.retryAfter || resp.Header.Get("Location") != c.location {
			t.Errorf("%d became %d (Retry-After %q, Location %q)", c.in, resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Location"))
		}
	}
}

// rawProtected sends a prepared protected request.
func (h *harness) rawProtected(t *testing.T, ct, oscoreHeader string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+DefaultPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if oscoreHeader != "" {
		req.Header.Set("OSCORE", oscoreHeader)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestProtectedRequestErrors(t *testing.T) {
	h, store := newProtectedHarness(t)
	sess, err := h.client(ProtoOSCORE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := oscore.NewContext(sess.Exported().Params())
	msg := &oscore.Message{Code: oscore.GET}
	msg.Add(oscore.OptUriPath, []byte("x"))
	opt, ct, _, _ := ctx.ProtectRequest(msg.Marshal())
	hdr := oscore.EncodeHeader(opt)
	window := func() oscore.ReplayWindow {
		sc, err := store.Get(context.Background(), sess.Exported().SenderID)
		if err != nil {
			t.Fatal(err)
		}
		return sc.Window
	}

	tampered := append([]byte{}, ct...)
	tampered[0] ^= 1
	unknown := oscore.Option{PIV: []byte{0}, KID: []byte{0xde, 0xad}}.Marshal()
	cases := []struct {
		name, ct, hdr string
		body          []byte
		status        int
		reason        string
	}{
		{"tampered ciphertext", oscore.MediaType, hdr, tampered, 400, "Decryption failed"},
		{"unknown kid", oscore.MediaType, oscore.EncodeHeader(unknown), ct, 401, "Security context not found"},
		{"padded header", oscore.MediaType, hdr + "=", ct, 400, "base64url"},
		{"bad header characters", oscore.MediaType, "CQ+/", ct, 400, "base64url"},
		{"reserved flag bits", oscore.MediaType, oscore.EncodeHeader([]byte{0x29, 0, 1}), ct, 400, "reserved"},
		{"no kid", oscore.MediaType, oscore.EncodeHeader([]byte{0x01, 0}), ct, 400, "kid"},
		{"oversized body", oscore.MediaType, hdr, make([]byte, MaxFlightSize+1), 413, "exceeds"},
		{"COSE body under the OSCORE context", `application/cose; cose-type="cose-encrypt0"`, "", ct, 400, "COSE_Encrypt0"},
		{"cose without cose-type", "application/cose", "", ct, 415, "Content-Type"},
		{"wrong content type", "application/json", hdr, ct, 415, "Content-Type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := h.rawProtected(t, c.ct, c.hdr, c.body)
			wantStatus(t, resp, c.status, c.reason)
			if w := window(); w != (oscore.ReplayWindow{}) {
				t.Fatalf("a failed request moved the replay window: %+v", w)
			}
		})
	}
	// The genuine request runs once; its replay is refused before
	// decryption and leaves the window as it was.
	resp := h.rawProtected(t, oscore.MediaType, hdr, ct)
	if resp.StatusCode != 200 || resp.Header.Get("OSCORE") != "AA" {
		t.Fatalf("genuine request: %d %q", resp.StatusCode, readAll(t, resp))
	}
	before := window()
	wantStatus(t, h.rawProtected(t, oscore.MediaType, hdr, ct), 401, "Replay detected")
	if window() != before {
		t.Fatal("a replay moved the window")
	}
	// A context of the other mode is not found for this one.
	coseSess, err := h.client(ProtoCOSE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cctx, _ := oscore.NewContext(coseSess.Exported().Params())
	copt, cct, _, _ := cctx.ProtectRequest(msg.Marshal())
	wantStatus(t, h.rawProtected(t, oscore.MediaType, oscore.EncodeHeader(copt), cct), 401, "Security context not found")
	// After DELETE the context is gone: the client learns it from 401.
	if err := sess.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr, _ := sess.Transport()
	_, err = (&http.Client{Transport: tr}).Get("https://r.example/y")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 || se.Reason != "Security context not found" {
		t.Fatalf("after DELETE: %v", err)
	}
}

// TestProtectedMalformedInnerGetsProtected400: once a request decrypts,
// even a malformed inner message is answered protected (profile 5.7, 6.5).
func TestProtectedMalformedInnerGetsProtected400(t *testing.T) {
	h, _ := newProtectedHarness(t)
	for _, proto := range []string{ProtoOSCORE, ProtoCOSE} {
		sess, err := h.client(proto).Handshake(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ctx, _ := oscore.NewContext(sess.Exported().Params())
		var resp *http.Response
		var st *oscore.RequestState
		if proto == ProtoOSCORE {
			var opt, ct []byte
			opt, ct, st, _ = ctx.ProtectRequest([]byte{0x01, 0xff}) // payload marker, no payload
			resp = h.rawProtected(t, oscore.MediaType, oscore.EncodeHeader(opt), ct)
		} else {
			var obj []byte
			obj, st, _ = ctx.SealRequest([]byte("NOT HTTP\r\n\r\n"))
			resp = h.rawProtected(t, oscore.COSEMediaType, "", obj)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: outer status %d %q", proto, resp.StatusCode, body)
		}
		var inner []byte
		if proto == ProtoOSCORE {
			inner, err = ctx.UnprotectResponse(st, nil, body)
			if err == nil {
				m, _ := oscore.UnmarshalMessage(inner)
				if m.Code != oscore.BadRequest {
					t.Fatalf("inner code %v", m.Code)
				}
			}
		} else {
			inner, err = ctx.OpenResponse(st, body)
			if err == nil && !strings.HasPrefix(string(inner), "HTTP/1.1 400 ") {
				t.Fatalf("inner response %q", inner)
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
	}
}

// TestDeletedContextRefusedByEveryReplica: a replica that has the context
// cached still refuses it once another replica deleted it, because the
// store's atomic mark is the authority.
func TestDeletedContextRefusedByEveryReplica(t *testing.T) {
	a, store := newProtectedHarness(t)
	b := newHarness(t, func(c *ServerConfig) { c.Sink = nil; c.Contexts = store })
	sess, err := a.client(ProtoCOSE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := sess.Transport()
	viaB := &http.Client{Transport: tr}
	tr.(*protectedTransport).session = &ClientSession{client: b.client(), exported: sess.exported}
	if resp, err := viaB.Get("https://r.example/cached"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("through the second replica: %v", err)
	}
	if err := sess.Close(context.Background()); err != nil { // DELETE at the owner, A
		t.Fatal(err)
	}
	_, err = viaB.Get("https://r.example/after-delete")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 || se.Reason != "Security context not found" {
		t.Fatalf("deleted context through the replica that cached it: %v", err)
	}
}
