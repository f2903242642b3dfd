package oscore

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"
)

// StoredContext is what a server keeps of one context exported by an ATLS
// handshake (profile 4.6): the key-schedule inputs, the identity the
// handshake proved, and the replay window.
type StoredContext struct {
	// Params holds the secrets; Params.RecipientID (the server's CID) is
	// the kid requests name.
	Params   Params
	Protocol string // "atls-oscore" or "atls-cose"
	TLSSuite uint16
	// PeerCertificates is the client's verified chain, DER, leaf first.
	PeerCertificates [][]byte
	// LocalCertificate is the DER certificate the server presented.
	LocalCertificate []byte
	// ChannelBinding is the handshake's RFC 9266 tls-exporter value.
	ChannelBinding []byte
	CreatedAt      time.Time
	ExpiresAt      time.Time
	// Window is the replay window as of the lookup; servers check a
	// Partial IV against it before decryption and mark it with MarkSeen
	// after (profile 5.7).
	Window ReplayWindow
}

// ContextStore keeps server-side contexts, shared by every replica that
// serves protected requests. Implementations must make MarkSeen atomic:
// of concurrent calls for one kid and Partial IV, exactly one succeeds.
// oscoretest.RunContextStore checks an implementation.
type ContextStore interface {
	// Put stores a new context under c.Params.RecipientID.
	Put(ctx context.Context, c *StoredContext) error
	// Get returns the live context for kid, or ErrContextNotFound.
	Get(ctx context.Context, kid []byte) (*StoredContext, error)
	// MarkSeen records piv in kid's replay window. It returns ErrReplay
	// when piv was seen or lies below the window, ErrContextNotFound when
	// the context is gone.
	MarkSeen(ctx context.Context, kid []byte, piv uint64) error
	// Delete removes kid's context; deleting an absent one is no error.
	Delete(ctx context.Context, kid []byte) error
}

// MemoryStore is a ContextStore for a single server.
type MemoryStore struct {
	// Now is the clock expiry is judged by; default time.Now.
	Now func() time.Time
	mu  sync.Mutex
	m   map[string]*StoredContext
}

func (s *MemoryStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Put implements ContextStore.
func (s *MemoryStore) Put(_ context.Context, c *StoredContext) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]*StoredContext)
	}
	kid := string(c.Params.RecipientID)
	if old, ok := s.m[kid]; ok && old.ExpiresAt.After(s.now()) {
		return fmt.Errorf("oscore: a context with kid %x exists", c.Params.RecipientID)
	}
	cp := *c
	s.m[kid] = &cp
	return nil
}

// Get implements ContextStore.
func (s *MemoryStore) Get(_ context.Context, kid []byte) (*StoredContext, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[string(kid)]
	if !ok || !c.ExpiresAt.After(s.now()) {
		return nil, ErrContextNotFound
	}
	cp := *c
	return &cp, nil
}

// MarkSeen implements ContextStore.
func (s *MemoryStore) MarkSeen(_ context.Context, kid []byte, piv uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[string(kid)]
	if !ok || !c.ExpiresAt.After(s.now()) {
		return ErrContextNotFound
	}
	if !c.Window.Mark(piv) {
		return ErrReplay
	}
	return nil
}

// Delete implements ContextStore.
func (s *MemoryStore) Delete(_ context.Context, kid []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, string(kid))
	return nil
}

// Equal reports whether two stored contexts hold the same values, replay
// window aside; conformance tests use it.
func (c *StoredContext) Equal(o *StoredContext) bool {
	p, q := c.Params, o.Params
	if p.AEAD != q.AEAD || p.HKDF != q.HKDF || !bytes.Equal(p.MasterSecret, q.MasterSecret) ||
		!bytes.Equal(p.MasterSalt, q.MasterSalt) || !bytes.Equal(p.SenderID, q.SenderID) ||
		!bytes.Equal(p.RecipientID, q.RecipientID) || !bytes.Equal(p.IDContext, q.IDContext) {
		return false
	}
	if c.Protocol != o.Protocol || c.TLSSuite != o.TLSSuite || len(c.PeerCertificates) != len(o.PeerCertificates) ||
		!bytes.Equal(c.LocalCertificate, o.LocalCertificate) || !bytes.Equal(c.ChannelBinding, o.ChannelBinding) ||
		!c.CreatedAt.Equal(o.CreatedAt) || !c.ExpiresAt.Equal(o.ExpiresAt) {
		return false
	}
	for i := range c.PeerCertificates {
		if !bytes.Equal(c.PeerCertificates[i], o.PeerCertificates[i]) {
			return false
		}
	}
	return true
}
