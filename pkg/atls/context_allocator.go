package atls

import (
	"context"
	"errors"
	"fmt"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// This file implements the key export's last step on the server (profile
// 4.3-4.6): a server CID unique across the deployment, the exported
// context stored under it, and the context put in this replica's cache.

// ContextAllocator is a context store that draws the server CID as it
// stores a context (the registrar's ctxstore: one database statement where
// AllocateCID then Put are two round trips). PutNew stores c under a fresh
// CID of 1 to maxLen bytes, unique across all live contexts and CID
// reservations, ignoring c's own Recipient ID, and returns the CID.
type ContextAllocator interface {
	PutNew(ctx context.Context, c *oscore.StoredContext, maxLen int) ([]byte, error)
}

// ErrNoCID is a CID allocation that found no free CID. A ContextAllocator
// wraps it when that is why PutNew failed; the key export then answers
// 503 "cannot allocate a connection ID".
var ErrNoCID = errors.New("cannot allocate a connection ID")

// contextPaths is how the key export stores contexts, decided once by
// NewServer: through a ContextAllocator when the CIDs and the default
// Sink's store are one and the same (the registrar's), since another Sink
// must see every context and another CID allocator must hand out every
// CID; and into this replica's cache when that store is the one
// protected requests read (Contexts).
type contextPaths struct {
	putNew ContextAllocator // nil: AllocateCID, then the Sink
	warm   bool
}

func newContextPaths(c ServerConfig) contextPaths {
	ss, ok := c.Sink.(StoreSink)
	if !ok {
		return contextPaths{}
	}
	var p contextPaths
	if a, ok := ss.Store.(ContextAllocator); ok && sameObject(ss.Store, c.CIDs) {
		p.putNew = a
	}
	p.warm = sameObject(ss.Store, c.Contexts)
	return p
}

// storeExported gives ec its server CID (Recipient ID, profile 4.3: the
// server's CID) and stores it, in one call of the allocator when there is
// one, else AllocateCID then the Sink, releasing the CID when storing
// fails. The stored context then enters this replica's cache, as a
// protected request's read of the store would put it there, so that the
// session's first protected request here reads nothing. An allocation
// failure wraps ErrNoCID.
//
// A PutNew that fails after its statement committed (the request's
// context ended while the answer was read) leaves a context no client
// knows the CID of: nobody can use it, and it is swept at its expiry.
func (s *Server) storeExported(ctx context.Context, ec *ExportedContext, maxLen int) error {
	if a := s.paths.putNew; a != nil {
		sc := StoredContext(ec)
		cid, err := a.PutNew(ctx, sc, maxLen)
		if err != nil {
			return err
		}
		ec.RecipientID = cid
		sc.Params.RecipientID = cid
		if s.paths.warm {
			s.warmCache(sc, ec)
		}
		return nil
	}
	cid, err := s.cfg.CIDs.AllocateCID(ctx, maxLen)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoCID, err)
	}
	ec.RecipientID = cid
	if err := s.cfg.Sink.StoreContext(ctx, ec); err != nil {
		_ = s.cfg.CIDs.ReleaseCID(ctx, cid)
		return err
	}
	if s.paths.warm {
		s.warmCache(StoredContext(ec), ec)
	}
	return nil
}

// warmCache caches the context just stored: its keys, and the identity
// the handshake verified (what peerOf rebuilds from a stored context,
// without parsing the certificates again), with an empty replay window,
// which is what the store holds for it.
func (s *Server) warmCache(sc *oscore.StoredContext, ec *ExportedContext) {
	keys, err := oscore.Derive(sc.Params)
	if err != nil {
		return // a protected request reads it, and logs why it is unusable
	}
	peer := storedPeer(sc, ec.PeerCertificates)
	s.contexts.put(ec.RecipientID, cachedContext{sc: sc, keys: keys, peer: peer}, s.cfg.Now())
}
