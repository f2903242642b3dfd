// Package oscoretest holds the conformance suite every oscore.ContextStore
// implementation must pass: the in-memory store runs it, and so does the
// registrar's PostgreSQL store.
package oscoretest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// Clock is a settable clock for expiry tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// NewStore returns an empty store judging expiry by now.
type NewStore func(t *testing.T, now func() time.Time) oscore.ContextStore

// Sample returns a context with kid as its Recipient ID, valid for an hour
// from now.
func Sample(kid []byte, now time.Time) *oscore.StoredContext {
	return &oscore.StoredContext{
		Params: oscore.Params{
			AEAD: oscore.A256GCM, HKDF: oscore.HKDFSHA384,
			MasterSecret: bytes.Repeat([]byte{0x11}, 32), MasterSalt: bytes.Repeat([]byte{0x22}, 32),
			SenderID: []byte{}, RecipientID: kid,
		},
		Protocol:         "atls-oscore",
		TLSSuite:         0x1302,
		PeerCertificates: [][]byte{{0x30, 0x03, 0x02, 0x01, 0x01}},
		LocalCertificate: []byte{0x30, 0x00},
		ChannelBinding:   bytes.Repeat([]byte{0x33}, 32),
		CreatedAt:        now,
		ExpiresAt:        now.Add(time.Hour),
	}
}

// RunContextStore runs the suite against stores made by newStore.
func RunContextStore(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	t.Run("PutGetRoundTrip", func(t *testing.T) {
		clk := NewClock()
		s := newStore(t, clk.Now)
		want := Sample([]byte{1, 2, 3, 4}, clk.Now())
		if err := s.Put(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, []byte{1, 2, 3, 4})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
		if got.Params.SenderID == nil || len(got.Params.SenderID) != 0 {
			t.Fatalf("empty Sender ID came back as %v", got.Params.SenderID)
		}
		if got.Window != (oscore.ReplayWindow{}) {
			t.Fatalf("fresh window %+v", got.Window)
		}
		if _, err := s.Get(ctx, []byte{9}); !errors.Is(err, oscore.ErrContextNotFound) {
			t.Fatalf("unknown kid: %v", err)
		}
		if err := s.Put(ctx, Sample([]byte{1, 2, 3, 4}, clk.Now())); err == nil {
			t.Fatal("a second context under a live kid was accepted")
		}
	})
	t.Run("ReplayWindow", func(t *testing.T) {
		clk := NewClock()
		s := newStore(t, clk.Now)
		kid := []byte{7}
		if err := s.Put(ctx, Sample(kid, clk.Now())); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			piv  uint64
			want error
		}{
			{0, nil}, {0, oscore.ErrReplay}, {5, nil}, {3, nil}, {3, oscore.ErrReplay}, {5, oscore.ErrReplay},
			{4, nil}, {36, nil}, {5, oscore.ErrReplay}, {4, oscore.ErrReplay}, {6, nil},
			{100, nil}, {68, oscore.ErrReplay}, {69, nil}, {oscore.MaxSequence, nil}, {oscore.MaxSequence + 1, oscore.ErrReplay},
		}
		for i, st := range steps {
			err := s.MarkSeen(ctx, kid, st.piv)
			if !errors.Is(err, st.want) && err != st.want {
				t.Fatalf("step %d piv %d: %v, want %v", i, st.piv, err, st.want)
			}
			got, err := s.Get(ctx, kid)
			if err != nil {
				t.Fatal(err)
			}
			if st.piv <= oscore.MaxSequence && !got.Window.Seen(st.piv) {
				t.Fatalf("step %d: window %+v does not show piv %d as seen", i, got.Window, st.piv)
			}
		}
		if err := s.MarkSeen(ctx, []byte{8}, 0); !errors.Is(err, oscore.ErrContextNotFound) {
			t.Fatalf("unknown kid: %v", err)
		}
	})
	t.Run("ConcurrentReplayRunsOnce", func(t *testing.T) {
		clk := NewClock()
		s := newStore(t, clk.Now)
		kid := []byte{0xaa, 0xbb}
		if err := s.Put(ctx, Sample(kid, clk.Now())); err != nil {
			t.Fatal(err)
		}
		for piv := uint64(0); piv < 4; piv++ {
			var ok, replays atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 24 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					switch err := s.MarkSeen(ctx, kid, piv); {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, oscore.ErrReplay):
						replays.Add(1)
					default:
						t.Error(err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if ok.Load() != 1 || replays.Load() != 23 {
				t.Fatalf("piv %d: %d succeeded and %d were replays; want exactly one success", piv, ok.Load(), replays.Load())
			}
		}
	})
	t.Run("ConcurrentDistinctPIVsAllKept", func(t *testing.T) {
		// A read-modify-write of the window without isolation loses marks
		// here: every one of WindowSize distinct Partial IVs, marked
		// concurrently in any order, must succeed once and stay seen.
		clk := NewClock()
		s := newStore(t, clk.Now)
		kid := []byte{0xcc}
		if err := s.Put(ctx, Sample(kid, clk.Now())); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for piv := uint64(0); piv < oscore.WindowSize; piv++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := s.MarkSeen(ctx, kid, piv); err != nil {
					t.Errorf("piv %d: %v", piv, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		got, err := s.Get(ctx, kid)
		if err != nil {
			t.Fatal(err)
		}
		for piv := uint64(0); piv < oscore.WindowSize; piv++ {
			if !got.Window.Seen(piv) {
				t.Errorf("piv %d lost from window %+v", piv, got.Window)
			}
			if err := s.MarkSeen(ctx, kid, piv); !errors.Is(err, oscore.ErrReplay) {
				t.Errorf("piv %d marked twice: %v", piv, err)
			}
		}
	})
	t.Run("ExpiryAndDelete", func(t *testing.T) {
		clk := NewClock()
		s := newStore(t, clk.Now)
		if err := s.Put(ctx, Sample([]byte{1}, clk.Now())); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, Sample([]byte{2}, clk.Now())); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, []byte{2}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, []byte{2}); !errors.Is(err, oscore.ErrContextNotFound) {
			t.Fatalf("deleted context: %v", err)
		}
		if err := s.Delete(ctx, []byte{2}); err != nil {
			t.Fatalf("deleting an absent context: %v", err)
		}
		clk.Advance(time.Hour)
		if _, err := s.Get(ctx, []byte{1}); !errors.Is(err, oscore.ErrContextNotFound) {
			t.Fatalf("expired context: %v", err)
		}
		if err := s.MarkSeen(ctx, []byte{1}, 0); !errors.Is(err, oscore.ErrContextNotFound) {
			t.Fatalf("mark on an expired context: %v", err)
		}
		// An expired kid may be reused.
		if err := s.Put(ctx, Sample([]byte{1}, clk.Now())); err != nil {
			t.Fatalf("reuse of an expired kid: %v", err)
		}
	})
}
