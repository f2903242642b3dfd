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

	"github.com/landfall-io/landfall/pkg/oscore"
)

// allocatingStore is a context store that is also the CID allocator and
// draws CIDs as it stores (the registrar's ctxstore in one process), and
// counts how each path was taken.
type allocatingStore struct {
	countingStore
	cids                  MemoryCIDs
	puts, putNews, allocs atomic.Int64
	failPutNew            error
}

func newAllocatingStore() *allocatingStore {
	return &allocatingStore{countingStore: countingStore{ContextStore: &oscore.MemoryStore{}}}
}

func (s *allocatingStore) Put(ctx context.Context, c *oscore.StoredContext) error {
	s.puts.Add(1)
	return s.countingStore.Put(ctx, c)
}

func (s *allocatingStore) PutNew(ctx context.Context, c *oscore.StoredContext, maxLen int) ([]byte, error) {
	s.putNews.Add(1)
	if s.failPutNew != nil {
		return nil, s.failPutNew
	}
	cid, err := s.cids.AllocateCID(ctx, maxLen)
	if err != nil {
		return nil, err
	}
	cp := *c
	cp.Params.RecipientID = cid
	return cid, s.countingStore.Put(ctx, &cp)
}

func (s *allocatingStore) AllocateCID(ctx context.Context, maxLen int) ([]byte, error) {
	s.allocs.Add(1)
	return s.cids.AllocateCID(ctx, maxLen)
}

func (s *allocatingStore) ReleaseCID(ctx context.Context, cid []byte) error {
	return s.cids.ReleaseCID(ctx, cid)
}

// TestKeyExportStoresThroughAllocator: when the context store is also the
// CID allocator, a key export stores its context with one PutNew under
// the CID PutNew drew, which the client learns as its Recipient ID; the
// first protected request on this replica reads nothing from the store,
// yet its Partial IV is still marked there, so a replay is refused.
func TestKeyExportStoresThroughAllocator(t *testing.T) {
	store := newAllocatingStore()
	h := newHarness(t, func(c *ServerConfig) { c.Sink, c.Contexts, c.CIDs = nil, store, store })
	store.ContextStore.(*oscore.MemoryStore).Now = h.clock.Now

	sess, err := h.client(ProtoOSCORE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if store.putNews.Load() != 1 || store.allocs.Load() != 0 || store.puts.Load() != 0 {
		t.Fatalf("PutNew %d, AllocateCID %d, Put %d; want 1, 0, 0", store.putNews.Load(), store.allocs.Load(), store.puts.Load())
	}
	kid := sess.Exported().SenderID // the server's CID (profile 4.3)
	stored, err := store.ContextStore.Get(context.Background(), kid)
	if err != nil {
		t.Fatalf("no context under the client's Sender ID %x: %v", kid, err)
	}
	if !bytes.Equal(stored.Params.SenderID, sess.Exported().RecipientID) {
		t.Fatalf("stored Sender ID %x, client's Recipient ID %x", stored.Params.SenderID, sess.Exported().RecipientID)
	}

	wantServedFromCache(t, sess, store)
	// The PIV the cache admitted is marked in the store: a replay of the
	// same PIV, seen by the authoritative window, is refused.
	if err := store.MarkSeen(context.Background(), kid, 0); !errors.Is(err, oscore.ErrReplay) {
		t.Fatalf("PIV 0 not marked in the store after the first request: %v", err)
	}
}

// TestKeyExportAllocatorFailure: a PutNew that fails refuses the
// handshake with 503, and nothing falls back to AllocateCID or Put.
func TestKeyExportAllocatorFailure(t *testing.T) {
	store := newAllocatingStore()
	store.failPutNew = errors.New("database down")
	h := newHarness(t, func(c *ServerConfig) { c.Sink, c.Contexts, c.CIDs = nil, store, store })

	_, err := h.client(ProtoOSCORE).Handshake(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable || se.Reason != "cannot store the security context" {
		t.Fatalf("handshake with a failing store: %v", err)
	}
	if store.puts.Load() != 0 || store.allocs.Load() != 0 {
		t.Fatalf("fell back to Put %d / AllocateCID %d times after PutNew failed", store.puts.Load(), store.allocs.Load())
	}
}

// TestKeyExportWithSeparateAllocator: a CID allocator other than the
// context store keeps handing out every CID (AllocateCID, then Put).
func TestKeyExportWithSeparateAllocator(t *testing.T) {
	store := newAllocatingStore()
	other := &MemoryCIDs{}
	h := newHarness(t, func(c *ServerConfig) { c.Sink, c.Contexts, c.CIDs = nil, store, other })
	store.ContextStore.(*oscore.MemoryStore).Now = h.clock.Now

	sess, err := h.client(ProtoOSCORE).Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if store.putNews.Load() != 0 || store.puts.Load() != 1 {
		t.Fatalf("PutNew %d, Put %d; want 0, 1", store.putNews.Load(), store.puts.Load())
	}
	if _, err := store.ContextStore.Get(context.Background(), sess.Exported().SenderID); err != nil {
		t.Fatalf("context not under the allocator's CID: %v", err)
	}
	wantServedFromCache(t, sess, store)
}

// TestKeyExportCrowdedAllocator: a PutNew that finds no free CID (it
// wraps ErrNoCID) refuses the handshake with 503 "cannot allocate a
// connection ID".
func TestKeyExportCrowdedAllocator(t *testing.T) {
	store := newAllocatingStore()
	store.failPutNew = fmt.Errorf("ctxstore: 4-byte connection-ID space is crowded: %w", ErrNoCID)
	h := newHarness(t, func(c *ServerConfig) { c.Sink, c.Contexts, c.CIDs = nil, store, store })
	_, err := h.client(ProtoOSCORE).Handshake(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusServiceUnavailable || se.Reason != "cannot allocate a connection ID" {
		t.Fatalf("handshake with no free CID: %v", err)
	}
}

// TestKeyExportSinkOtherThanContexts: a Sink whose store is not the one
// protected requests read (Contexts) leaves this replica's cache alone:
// the request is looked up in Contexts, which does not know the kid.
func TestKeyExportSinkOtherThanContexts(t *testing.T) {
	sinkStore, readStore := newAllocatingStore(), newAllocatingStore()
	h := newHarness(t, func(c *ServerConfig) {
		c.Sink, c.Contexts, c.CIDs = StoreSink{Store: sinkStore}, readStore, sinkStore
	})
	sess, err := h.client(ProtoOSCORE).Handshake(context.Background())
	if err != nil || sinkStore.putNews.Load() != 1 {
		t.Fatalf("handshake: %v, PutNew %d", err, sinkStore.putNews.Load())
	}
	tr, _ := sess.Transport()
	resp, err := (&http.Client{Transport: tr}).Get("https://r.example/x")
	if err == nil {
		resp.Body.Close()
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized || readStore.gets.Load() != 1 {
		t.Fatalf("request for a context only the sink's store holds: %v, %d lookups in Contexts", err, readStore.gets.Load())
	}
}

// wantServedFromCache sends the session's first protected request: it is
// answered for the handshake's client certificate without a read of the
// store.
func wantServedFromCache(t *testing.T, sess *ClientSession, store *allocatingStore) {
	t.Helper()
	tr, _ := sess.Transport()
	resp, err := (&http.Client{Transport: tr}).Get("https://r.example/first")
	if err != nil {
		t.Fatalf("first protected request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "pledge-0001 GET /first") {
		t.Fatalf("first protected request: %d %q, want the pledge's identity", resp.StatusCode, body)
	}
	if got := store.gets.Load(); got != 0 {
		t.Fatalf("first protected request after the key export read the store %d times, want 0", got)
	}
}
