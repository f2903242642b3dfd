package atls

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// TestContextOutlivesHandshakeSession: the 30 s session of a finished
// key-export handshake expires and is swept, but the context it exported
// lives Lifetimes.Context (profile 1.9), so a pledge that comes back after a
// Retry-After still finds it; past that lifetime it is gone (401).
func TestContextOutlivesHandshakeSession(t *testing.T) {
	for _, proto := range []string{ProtoOSCORE, ProtoCOSE} {
		t.Run(proto, func(t *testing.T) {
			store := &oscore.MemoryStore{}
			h := newHarness(t, func(c *ServerConfig) {
				c.Sink, c.Contexts = nil, store
				c.Lifetimes = Lifetimes{Context: 10 * time.Minute} // the others keep the profile's values
			})
			store.Now = h.clock.Now
			sess, err := h.client(proto).Handshake(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			kid := sess.Exported().SenderID
			tr, _ := sess.Transport()
			hc := &http.Client{Transport: tr}

			h.clock.Advance(DefaultLifetimes.HandshakeIdle + time.Second)
			h.srv.Sweep()
			if st := h.srv.Stats(); st.Sessions != 0 {
				t.Fatalf("the finished session was not swept: %+v", st)
			}
			if _, err := store.Get(context.Background(), kid); err != nil {
				t.Fatalf("context gone with its handshake session: %v", err)
			}
			resp, err := hc.Get("https://registrar.example/after-retry-after")
			if err != nil {
				t.Fatalf("protected request after the session expired: %v", err)
			}
			if body, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(body) != "pledge-0001 GET /after-retry-after " {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}

			// Lifetimes.Context is the context's own lifetime.
			h.clock.Advance(10 * time.Minute)
			_, err = hc.Get("https://registrar.example/too-late")
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != 401 || se.Reason != "Security context not found" {
				t.Fatalf("after the context lifetime: %v", err)
			}
			if _, err := store.Get(context.Background(), kid); !errors.Is(err, oscore.ErrContextNotFound) {
				t.Fatalf("expired context still in the store: %v", err)
			}
		})
	}
}

// TestPartialLifetimesKeepDefaults: setting one lifetime keeps the
// profile's others; a handshake session is not expired at once.
func TestPartialLifetimesKeepDefaults(t *testing.T) {
	h := newHarness(t, func(c *ServerConfig) { c.Lifetimes = Lifetimes{Context: time.Hour} })
	want := DefaultLifetimes
	want.Context = time.Hour
	if h.srv.cfg.Lifetimes != want {
		t.Fatalf("lifetimes %+v, want %+v", h.srv.cfg.Lifetimes, want)
	}
	if _, err := h.client(ProtoOSCORE).Handshake(context.Background()); err != nil {
		t.Fatal(err)
	}
}
