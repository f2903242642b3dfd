package atls

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// TestReplayRefusedBeforeDecryptionWhileCached: a Partial IV already in
// the window gets 401 "Replay detected" before decryption (profile 5.7),
// also when the context is cached and the replayed ciphertext is garbage,
// whether this replica or another one saw the Partial IV.
func TestReplayRefusedBeforeDecryptionWhileCached(t *testing.T) {
	a, store := newProtectedHarness(t)
	b := newHarness(t, func(c *ServerConfig) { c.Sink = nil; c.Contexts = store })
	b.srv.cfg.Now = a.clock.Now
	sess, err := a.client(ProtoOSCORE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kid := sess.Exported().SenderID
	ctx, _ := oscore.NewContext(sess.Exported().Params())
	request := func() (hdr string, ct, garbage []byte) {
		msg := &oscore.Message{Code: oscore.GET}
		msg.Add(oscore.OptUriPath, []byte("x"))
		opt, ct, _, err := ctx.ProtectRequest(msg.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		garbage = bytes.Clone(ct)
		garbage[len(garbage)-1] ^= 0xff
		return oscore.EncodeHeader(opt), ct, garbage
	}
	window := func() oscore.ReplayWindow {
		sc, err := store.Get(context.Background(), kid)
		if err != nil {
			t.Fatal(err)
		}
		return sc.Window
	}

	// Partial IV 0 runs on A, which caches the context.
	hdr0, ct0, garbage0 := request()
	if resp := a.rawProtected(t, oscore.MediaType, hdr0, ct0); readAll(t, resp) == nil || resp.StatusCode != 200 {
		t.Fatalf("genuine request: %d", resp.StatusCode)
	}
	before := window()
	wantStatus(t, a.rawProtected(t, oscore.MediaType, hdr0, garbage0), 401, "Replay detected")
	wantStatus(t, a.rawProtected(t, oscore.MediaType, hdr0, ct0), 401, "Replay detected")

	// B caches the context with Partial IV 1 unseen; A then runs it.
	hdr1, ct1, garbage1 := request()
	wantStatus(t, b.rawProtected(t, oscore.MediaType, hdr1, garbage1), 400, "Decryption failed")
	if resp := a.rawProtected(t, oscore.MediaType, hdr1, ct1); readAll(t, resp) == nil || resp.StatusCode != 200 {
		t.Fatalf("genuine request 1: %d", resp.StatusCode)
	}
	// B's cached window is stale, the store's is not.
	wantStatus(t, b.rawProtected(t, oscore.MediaType, hdr1, garbage1), 401, "Replay detected")
	wantStatus(t, b.rawProtected(t, oscore.MediaType, hdr1, ct1), 401, "Replay detected")
	if w := window(); w.High != 2 || w.Bitmap != 3 || before.High != 1 {
		t.Fatalf("window %+v (before %+v)", w, before)
	}
}

// TestCookieSecureWhenPublicURLIsHTTPS: the atls cookie carries Secure
// when the public URL is https (profile 1.2): configured, or reported by a
// trusted proxy's X-Forwarded-Proto; never on an untrusted peer's word.
func TestCookieSecureWhenPublicURLIsHTTPS(t *testing.T) {
	cases := []struct {
		name    string
		secure  bool
		trusted string
		proto   string
		want    bool
	}{
		{"plain", false, "", "", false},
		{"configured", true, "", "", true},
		{"trusted proxy says https", false, "127.0.0.0/8", "https", true},
		{"trusted proxy says http", false, "127.0.0.0/8", "http", false},
		{"untrusted peer says https", false, "", "https", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *ServerConfig) {
				cfg.SecureCookie = c.secure
				if c.trusted != "" {
					cfg.TrustedProxies = mustPrefixes(c.trusted)
				}
			})
			_, ch := h.clientHello(t)
			req, _ := http.NewRequest(http.MethodPost, h.ts.URL+DefaultPath, bytes.NewReader(ch))
			req.Header.Set("Content-Type", ContentTypeATLS)
			if c.proto != "" {
				req.Header.Set("X-Forwarded-Proto", c.proto)
			}
			resp, err := h.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			sc := resp.Header.Get("Set-Cookie")
			if !strings.HasPrefix(sc, "atls=") || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
				t.Fatalf("Set-Cookie %q", sc)
			}
			if got := strings.Contains(sc, "; Secure"); got != c.want {
				t.Fatalf("Set-Cookie %q: Secure %v, want %v", sc, got, c.want)
			}
		})
	}
}
