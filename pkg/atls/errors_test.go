package atls

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clientHello returns a real ClientHello flight from a Go client.
func (h *harness) clientHello(t *testing.T, protos ...string) (*rawPledge, []byte) {
	p := newRawPledge(t, h.pledgeTLS(protos...))
	ch, _ := p.next(nil)
	return p, ch
}

func wantStatus(t *testing.T, resp *http.Response, status int, reason string) {
	t.Helper()
	body := readAll(t, resp)
	if resp.StatusCode != status {
		t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, status)
	}
	if status >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Fatalf("error Content-Type %q", ct)
		}
		if !strings.Contains(string(body), reason) {
			t.Fatalf("reason %q does not mention %q", body, reason)
		}
		if len(resp.Cookies()) != 0 {
			t.Fatal("error answer sets a cookie")
		}
	}
}

func TestHTTPErrorStatuses(t *testing.T) {
	h := newHarness(t, nil)
	_, ch := h.clientHello(t)
	// A sid for a session that never existed, with a valid MAC.
	codec, _ := newSIDCodec(testSessionKey)
	ghost, _ := codec.mint("r1")
	forged := []byte(ghost)
	// Another base64url letter, never one a cookie cannot carry (a '_'
	// flipped by XOR became '\\', which drops the cookie and made a new
	// session once in 64 runs).
	if forged[len(forged)-3] == 'A' {
		forged[len(forged)-3] = 'B'
	} else {
		forged[len(forged)-3] = 'A'
	}

	cases := []struct {
		name, ct, cookie string
		body             []byte
		status           int
		reason           string
	}{
		{"wrong content type", "text/plain", "", ch, 415, "Content-Type"},
		{"no content type", "", "", ch, 415, "Content-Type"},
		{"oversized body", ContentTypeATLS, "", make([]byte, MaxFlightSize+1), 413, "exceeds"},
		{"empty body on a new session", ContentTypeATLS, "", nil, 400, "empty flight"},
		{"not TLS records", ContentTypeATLS, "", []byte("GET / HTTP/1.1\r\n\r\n"), 400, "well-formed TLS records"},
		{"truncated record", ContentTypeATLS, "", ch[:len(ch)-1], 400, "truncated"},
		{"record type 24", ContentTypeATLS, "", []byte{24, 3, 3, 0, 1, 0}, 400, "content type 24"},
		{"zero-length handshake record", ContentTypeATLS, "", []byte{22, 3, 3, 0, 0}, 400, "empty handshake"},
		{"no ClientHello", ContentTypeATLS, "", []byte{23, 3, 3, 0, 2, 1, 2}, 400, "ClientHello"},
		{"unknown sid", ContentTypeATLS, ghost, ch, 404, "unknown"},
		{"forged sid", ContentTypeATLS, string(forged), ch, 404, "unknown session"},
		{"garbage sid", ContentTypeATLS, "not*base64", ch, 404, "unknown session"},
		{"oscore without a context store", ContentTypeOSCORE, "", []byte{1}, 415, "Content-Type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantStatus(t, h.post(t, c.ct, c.cookie, c.body), c.status, c.reason)
		})
	}
	if st := h.srv.Stats(); st.Sessions != 0 {
		t.Fatalf("bad requests created sessions: %+v", st)
	}

	t.Run("method not allowed", func(t *testing.T) {
		resp, err := h.ts.Client().Get(h.ts.URL + DefaultPath)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Allow") != "POST, DELETE" {
			t.Fatalf("Allow %q", resp.Header.Get("Allow"))
		}
		wantStatus(t, resp, 405, "not allowed")
	})
}

func TestMalformedLaterFlightKeepsSession(t *testing.T) {
	h := newHarness(t, nil)
	p, ch := h.clientHello(t)
	resp := h.post(t, ContentTypeATLS, "", ch)
	sid := sidFrom(t, resp)
	sh := readAll(t, resp)
	wantStatus(t, h.post(t, ContentTypeATLS, sid, []byte{1, 2, 3}), 400, "well-formed")
	// The session survives a bad flight: the real one completes it.
	fin, done := p.next(sh)
	if !done || p.err != nil {
		t.Fatalf("client handshake: done=%v err=%v", done, p.err)
	}
	resp = h.post(t, ContentTypeATLS, sid, fin)
	if body := readAll(t, resp); resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("Finished answered %d with %d bytes", resp.StatusCode, len(body))
	}
	// An empty POST on a live session returns the pending flight: nothing.
	resp = h.post(t, ContentTypeATLS, sid, nil)
	if body := readAll(t, resp); resp.StatusCode != 200 || len(body) != 0 {
		t.Fatalf("empty POST answered %d with %d bytes", resp.StatusCode, len(body))
	}
}

func TestRateLimitPerClient(t *testing.T) {
	h := newHarness(t, func(c *ServerConfig) {
		c.RateLimit = RateLimit{PerSecond: 1, Burst: 2}
	})
	_, ch := h.clientHello(t)
	for i := range 2 {
		if resp := h.post(t, ContentTypeATLS, "", ch); resp.StatusCode != 200 {
			t.Fatalf("session %d: %d", i, resp.StatusCode)
		}
	}
	resp := h.post(t, ContentTypeATLS, "", ch)
	if resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	wantStatus(t, resp, 429, "too many")
	h.clock.Advance(time.Second)
	if resp := h.post(t, ContentTypeATLS, "", ch); resp.StatusCode != 200 {
		t.Fatalf("after a refill: %d", resp.StatusCode)
	}
}

func TestClientAddressBehindTrustedProxy(t *testing.T) {
	trusted := mustPrefixes("10.0.0.0/8")
	req := func(remote, xff string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return r
	}
	cases := []struct{ remote, xff, want string }{
		{"192.0.2.1:5000", "198.51.100.7", "192.0.2.1"},                // untrusted peer: header ignored
		{"10.1.1.1:5000", "198.51.100.7", "198.51.100.7"},              // trusted proxy
		{"10.1.1.1:5000", "203.0.113.9, 198.51.100.7", "198.51.100.7"}, // right-most untrusted
		{"10.1.1.1:5000", "198.51.100.7, 10.2.2.2", "198.51.100.7"},    // proxy chain
		{"10.1.1.1:5000", "", "10.1.1.1"},
		{"10.1.1.1:5000", "garbage", "10.1.1.1"},
	}
	for _, c := range cases {
		if got := clientAddress(req(c.remote, c.xff), trusted); got != c.want {
			t.Errorf("remote %s xff %q: got %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestCapacityLimitBeforeAnyCrypto(t *testing.T) {
	h := newHarness(t, func(c *ServerConfig) { c.MaxHandshakes = 2; c.RetryAfter = 3 * time.Second })
	_, ch := h.clientHello(t)
	for i := range 2 {
		if resp := h.post(t, ContentTypeATLS, "", ch); resp.StatusCode != 200 {
			t.Fatalf("session %d: %d", i, resp.StatusCode)
		}
	}
	resp := h.post(t, ContentTypeATLS, "", ch)
	if resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	wantStatus(t, resp, 503, "capacity")
	if st := h.srv.Stats(); st.Handshakes != 2 {
		t.Fatalf("stats %+v", st)
	}
	// Expired handshakes free their places.
	h.clock.Advance(31 * time.Second)
	if resp := h.post(t, ContentTypeATLS, "", ch); resp.StatusCode != 200 {
		t.Fatalf("after expiry: %d", resp.StatusCode)
	}
}

func TestHandshakeAlertIsReturnedIn200(t *testing.T) {
	h := newHarness(t, func(c *ServerConfig) { c.TLS.ClientAuth = tls.RequireAndVerifyClientCert })
	cfg := h.pledgeTLS()
	cfg.Certificates = []tls.Certificate{h.pki.stranger}
	p := newRawPledge(t, cfg)
	ch, _ := p.next(nil)
	resp := h.post(t, ContentTypeATLS, "", ch)
	sid := sidFrom(t, resp)
	fin, _ := p.next(readAll(t, resp))
	resp = h.post(t, ContentTypeATLS, sid, fin)
	alert := readAll(t, resp)
	if resp.StatusCode != 200 || len(alert) == 0 || alert[0] != recordAlert && alert[0] != recordApplicationData {
		t.Fatalf("status %d, flight % x", resp.StatusCode, alert)
	}
	// The alert decrypts on the client to bad_certificate (or unknown_ca).
	p.conn.setNoWait()
	p.conn.feed(alert)
	if _, err := p.tc.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("client read %v, want a certificate alert", err)
	}
	// The session ended, but a retry of that flight still gets the alert.
	resp = h.post(t, ContentTypeATLS, sid, fin)
	if again := readAll(t, resp); !bytes.Equal(again, alert) {
		t.Fatal("retry of the alerted flight got a different answer")
	}
	// Any other flight on the ended session is 404 (profile 1.5, 1.6).
	wantStatus(t, h.post(t, ContentTypeATLS, sid, []byte{23, 3, 3, 0, 1, 0}), 404, "ended")
	if st := h.srv.Stats(); st.Handshakes != 0 {
		t.Fatalf("stats %+v", st)
	}
	// And through the Client the failure is an error naming the alert.
	c := h.client(ProtoRecords)
	c.TLS.Certificates = []tls.Certificate{h.pki.stranger}
	if _, err := c.Handshake(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Client.Handshake = %v", err)
	}
}

func TestRetransmissionIsIdempotent(t *testing.T) {
	for _, proto := range []string{ProtoRecords, ProtoOSCORE} {
		t.Run(proto, func(t *testing.T) {
			h := newHarness(t, nil)
			p, ch := h.clientHello(t, proto)
			resp := h.post(t, ContentTypeATLS, "", ch)
			sid := sidFrom(t, resp)
			sh := readAll(t, resp)
			// The ClientHello's answer is lost; a retry with the cookie gets
			// the same flight without feeding TLS again.
			again := readAll(t, h.post(t, ContentTypeATLS, sid, ch))
			if !bytes.Equal(again, sh) {
				t.Fatal("retransmitted ClientHello got a different answer")
			}
			fin, _ := p.next(sh)
			if proto == ProtoOSCORE {
				p.tc.Write(appendCarrier(nil, ExtOSCOREConnectionID, nil))
				fin = append(fin, p.conn.take()...)
			}
			first := readAll(t, h.post(t, ContentTypeATLS, sid, fin))
			second := readAll(t, h.post(t, ContentTypeATLS, sid, fin))
			if !bytes.Equal(first, second) {
				t.Fatal("retransmitted Finished got a different answer")
			}
			if proto == ProtoOSCORE {
				if len(first) == 0 || h.sink.len() != 1 {
					t.Fatalf("carrier answer %d bytes, %d contexts", len(first), h.sink.len())
				}
				// Any other flight after the export is refused (4.2).
				wantStatus(t, h.post(t, ContentTypeATLS, sid, []byte{23, 3, 3, 0, 1, 0}), 400, "key export is complete")
			}
		})
	}
}

func TestCarrierErrors(t *testing.T) {
	cases := []struct {
		name    string
		carrier []byte
		reason  string
	}{
		{"missing", nil, "no connection-ID carrier"},
		{"wrong ExtensionType", appendCarrier(nil, ExtCOSE, []byte{1}), "ExtensionType"},
		{"CID too long", appendCarrier(nil, ExtOSCOREConnectionID, make([]byte, 7)), "exceeds 6"},
		{"truncated", []byte{0xff, 0xdc, 2, 1}, "no connection-ID carrier"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			p, ch := h.clientHello(t, ProtoOSCORE)
			resp := h.post(t, ContentTypeATLS, "", ch)
			sid := sidFrom(t, resp)
			fin, _ := p.next(readAll(t, resp))
			if c.carrier != nil {
				p.tc.Write(c.carrier)
				fin = append(fin, p.conn.take()...)
			}
			wantStatus(t, h.post(t, ContentTypeATLS, sid, fin), 400, c.reason)
			// The session is gone, and nothing was exported.
			wantStatus(t, h.post(t, ContentTypeATLS, sid, fin), 404, "unknown")
			if h.sink.len() != 0 {
				t.Fatal("a context was exported despite the error")
			}
		})
	}
}

func TestContextSinkFailureIs503(t *testing.T) {
	h := newHarness(t, nil)
	h.sink.fail = errTestSink
	_, err := h.client(ProtoCOSE).Handshake(context.Background())
	var se *StatusError
	if !errorsAs(err, &se) || se.StatusCode != 503 || se.RetryAfter == 0 {
		t.Fatalf("err = %v, want 503 with Retry-After", err)
	}
}

func TestExpiry(t *testing.T) {
	h := newHarness(t, nil)
	p, ch := h.clientHello(t)
	resp := h.post(t, ContentTypeATLS, "", ch)
	sid := sidFrom(t, resp)
	fin, _ := p.next(readAll(t, resp))
	h.clock.Advance(31 * time.Second) // profile 1.9: 30 s after the last flight
	wantStatus(t, h.post(t, ContentTypeATLS, sid, fin), 404, "expired")

	// 60 s after the ClientHello even with flights in between.
	_, ch = h.clientHello(t)
	resp = h.post(t, ContentTypeATLS, "", ch)
	sid = sidFrom(t, resp)
	readAll(t, resp)
	for range 3 {
		h.clock.Advance(21 * time.Second)
		resp = h.post(t, ContentTypeATLS, sid, nil)
		readAll(t, resp)
	}
	if resp.StatusCode != 404 {
		t.Fatalf("session alive %d after 60 s in handshake", resp.StatusCode)
	}

	// An established records session lives 5 minutes idle.
	sess, err := h.client().Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: sess}
	h.clock.Advance(4 * time.Minute)
	if _, err := hc.Get("https://registrar.example/a"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5*time.Minute + time.Second)
	_, err = hc.Get("https://registrar.example/b")
	var se *StatusError
	if !errorsAs(err, &se) || se.StatusCode != 404 {
		t.Fatalf("idle session: %v", err)
	}
	h.srv.Sweep()
	if st := h.srv.Stats(); st.Sessions != 0 {
		t.Fatalf("stats after sweep %+v", st)
	}
}

func TestDelete(t *testing.T) {
	h := newHarness(t, nil)
	sess, err := h.client().Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sid := sess.sid
	if err := sess.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, h.ts.URL+DefaultPath, nil)
	req.Header.Set("Cookie", "atls="+sid)
	resp, _ := h.ts.Client().Do(req)
	wantStatus(t, resp, 404, "unknown")
	if st := h.srv.Stats(); st.Sessions != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDrain: a draining server refuses new sessions with 503 and lets a
// session in handshake finish.
func TestDrain(t *testing.T) {
	h := newHarness(t, nil)
	p, ch := h.clientHello(t)
	resp := h.post(t, ContentTypeATLS, "", ch)
	sid := sidFrom(t, resp)
	fin, _ := p.next(readAll(t, resp))
	h.srv.Drain()
	wantStatus(t, h.post(t, ContentTypeATLS, "", ch), 503, "shutting down")
	if resp := h.post(t, ContentTypeATLS, sid, fin); resp.StatusCode != 200 {
		t.Fatalf("the running handshake was cut off: %d", resp.StatusCode)
	}
	if st := h.srv.Stats(); st.Handshakes != 0 {
		t.Fatalf("stats %+v", st)
	}
}
