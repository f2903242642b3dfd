package atls

import (
	"bytes"
	"encoding/binary"
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
