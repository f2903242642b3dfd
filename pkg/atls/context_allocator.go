package atls

import (
	"context"
	"crypto/tls"
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

// errNoCID is a key export that found no CID to allocate.
var errNoCID = errors.New("cannot allocate a connection ID")

// allocator is the server's ContextAllocator when its CIDs and the store
// of its default Sink are one and the same (the registrar's), nil
// otherwise: another Sink must see every context, and another CID
// allocator must hand out every CID.
func (s *Server) allocator() ContextAllocator {
	ss, ok := s.cfg.Sink.(StoreSink)
	if !ok {
		return nil
	}
	a, ok := ss.Store.(ContextAllocator)
	if !ok || !sameObject(ss.Store, s.cfg.CIDs) {
		return nil
	}
	return a
}

// storeExported gives ec its server CID (Recipient ID, profile 4.3: the
// server's CID) and stores it, in one call of the allocator when there is
// one, else AllocateCID then the Sink, releasing the CID when storing
// fails. The stored context then enters this replica's cache, as a
// protected request's read of the store would put it there, so that the
// session's first protected request here reads nothing. An allocation
// failure wraps errNoCID.
func (s *Server) storeExported(ctx context.Context, ec *ExportedContext, maxLen int) error {
	if a := s.allocator(); a != nil {
		sc := StoredContext(ec)
		cid, err := a.PutNew(ctx, sc, maxLen)
		if err != nil {
			return err
		}
		ec.RecipientID = cid
		sc.Params.RecipientID = cid
		s.warmCache(sc, ec)
		return nil
	}
	cid, err := s.cfg.CIDs.AllocateCID(ctx, maxLen)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoCID, err)
	}
	ec.RecipientID = cid
	if err := s.cfg.Sink.StoreContext(ctx, ec); err != nil {
		_ = s.cfg.CIDs.ReleaseCID(ctx, cid)
		return err
	}
	if _, ok := s.cfg.Sink.(StoreSink); ok {
		s.warmCache(StoredContext(ec), ec)
	}
	return nil
}

// warmCache caches the context just stored: its keys, and the identity
// the handshake verified (what peerOf rebuilds from a stored context),
// with an empty replay window, which is what the store holds for it.
func (s *Server) warmCache(sc *oscore.StoredContext, ec *ExportedContext) {
	keys, err := oscore.Derive(sc.Params)
	if err != nil {
		return // a protected request reads it, and logs why it is unusable
	}
	peer := &Peer{Protocol: sc.Protocol, LocalCertificate: sc.LocalCertificate, ChannelBinding: sc.ChannelBinding,
		ConnectionState: &tls.ConnectionState{
			Version: tls.VersionTLS13, HandshakeComplete: true, CipherSuite: sc.TLSSuite,
			NegotiatedProtocol: sc.Protocol, PeerCertificates: ec.PeerCertificates,
		}}
	s.contexts.put(ec.RecipientID, cachedContext{sc: sc, keys: keys, peer: peer}, s.cfg.Now())
}
