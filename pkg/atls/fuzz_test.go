package atls

import (
	"context"

	"bytes"
	"encoding/binary"
	"github.com/landfall-io/landfall/pkg/oscore"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func FuzzCheckFlight(f *testing.F) {
	f.Add([]byte{22, 3, 1, 0, 1, 1})
	f.Add([]byte{23, 3, 3, 0, 0, 21, 3, 3, 0, 2, 2, 40})
	f.Add([]byte{22, 3, 3, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkFlight(body) != nil {
			return
		}
		// Accepted flights are whole records of the allowed types.
		for off := 0; off < len(body); {
			n := int(binary.BigEndian.Uint16(body[off+3:]))
			if body[off] < 20 || body[off] > 23 || n > maxRecordPayload {
				t.Fatalf("accepted bad record at %d", off)
			}
			off += recordHeaderLen + n
			if off > len(body) {
				t.Fatal("accepted a truncated record")
			}
		}
	})
}

// FuzzServerHandler feeds arbitrary bodies to a fresh server, both as a new
// session and as the next flight of a session in handshake (after a real
// ClientHello). Whatever the bytes, the answer is one of the profile's
// statuses, and after the server closes no session is left.
func FuzzServerHandler(f *testing.F) {
	h := newHarness(f, nil)
	cfg := h.config()
	cfg.FlightTimeout = 5 * time.Second
	p := newRawPledge(f, h.pledgeTLS(ProtoOSCORE))
	ch, _ := p.next(nil)

	f.Add(ch, false)
	f.Add(ch, true)
	f.Add([]byte{22, 3, 3, 0, 4, 1, 0, 0, 0}, false)
	f.Add([]byte{21, 3, 3, 0, 2, 2, 50}, true)
	f.Add([]byte{23, 3, 3, 0, 3, 0xff, 0xdc, 0}, true)
	f.Fuzz(func(t *testing.T, body []byte, continued bool) {
		srv, err := NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		cookie := ""
		if continued {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, newFlightRequest(ch, ""))
			cookie = sidFrom(t, rec.Result())
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, newFlightRequest(body, cookie))
		switch rec.Code {
		case 200, 400, 404, 413:
		default:
			t.Fatalf("status %d for %x", rec.Code, body)
		}
		if rec.Code == 200 && rec.Header().Get("Content-Type") != ContentTypeATLS {
			t.Fatalf("200 with Content-Type %q", rec.Header().Get("Content-Type"))
		}
		if rec.Code >= 400 && len(rec.Body.Bytes()) == 0 {
			t.Fatal("error without a reason")
		}
	})
}

func newFlightRequest(body []byte, sid string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, DefaultPath, bytes.NewReader(body))
	r.Header.Set("Content-Type", ContentTypeATLS)
	if sid != "" {
		r.Header.Set("Cookie", "atls="+sid)
	}
	return r
}

// FuzzProtectedHandler feeds arbitrary protected bodies and OSCORE headers
// to a server with one live context. Nothing may panic; every answer is one
// of the profile's (5.7, 6.5), and unauthenticated bytes never move the
// replay window.
func FuzzProtectedHandler(f *testing.F) {
	store := &oscore.MemoryStore{}
	h := newHarness(f, func(c *ServerConfig) { c.Sink = nil; c.Contexts = store })
	store.Now = h.clock.Now
	sess, err := h.client(ProtoOSCORE).Handshake(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	kid := sess.Exported().SenderID
	cctx, _ := oscore.NewContext(sess.Exported().Params())
	msg := &oscore.Message{Code: oscore.GET}
	opt, ct, _, _ := cctx.ProtectRequest(msg.Marshal())
	obj, _, _ := cctx.SealRequest([]byte("GET / HTTP/1.1\r\nHost: r\r\n\r\n"))
	f.Add(oscore.EncodeHeader(opt), ct, false)
	f.Add("CQAKCwwN", []byte{1, 2, 3}, false)
	f.Add("", obj, true)
	f.Add("", []byte{0xd0, 0x83, 0x43, 0xa1, 0x01, 0x01, 0xa0, 0x40}, true)
	f.Fuzz(func(t *testing.T, header string, body []byte, cose bool) {
		if bytes.Equal(body, ct) || bytes.Equal(body, obj) {
			return // the genuine requests would (rightly) move the window
		}
		r := httptest.NewRequest(http.MethodPost, DefaultPath, bytes.NewReader(body))
		if cose {
			r.Header.Set("Content-Type", oscore.COSEMediaType)
		} else {
			r.Header.Set("Content-Type", oscore.MediaType)
			r.Header.Set("OSCORE", header)
		}
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, r)
		switch rec.Code {
		case 400, 401, 413:
		default:
			t.Fatalf("status %d for %q %x", rec.Code, header, body)
		}
		if sc, err := store.Get(context.Background(), kid); err != nil || sc.Window != (oscore.ReplayWindow{}) {
			t.Fatalf("window moved by forged input: %+v %v", sc, err)
		}
	})
}
