package atls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"

	"github.com/landfall-io/landfall/pkg/atls/httpmsg"
	"github.com/landfall-io/landfall/pkg/oscore"
)

// This file implements the server side of protected requests: OSCORE over
// HTTP (profile 5, RFC 8613 section 11) and COSE_Encrypt0 over HTTP
// (profile 6), found by kid in the shared context store (4.6), with replay
// checks (5.7).

// StoreSink hands exported contexts to an oscore.ContextStore, the form in
// which protected requests find them (profile 4.6).
type StoreSink struct {
	Store oscore.ContextStore
}

// StoreContext implements ContextSink.
func (s StoreSink) StoreContext(ctx context.Context, ec *ExportedContext) error {
	return s.Store.Put(ctx, StoredContext(ec))
}

// DeleteContext implements ContextSink.
func (s StoreSink) DeleteContext(ctx context.Context, recipientID []byte) error {
	return s.Store.Delete(ctx, recipientID)
}

// StoredContext converts an exported context to the stored form.
func StoredContext(ec *ExportedContext) *oscore.StoredContext {
	chain := make([][]byte, len(ec.PeerCertificates))
	for i, c := range ec.PeerCertificates {
		chain[i] = c.Raw
	}
	return &oscore.StoredContext{
		Params:           ec.Params(),
		Protocol:         ec.Protocol,
		TLSSuite:         ec.Suite.Suite,
		PeerCertificates: chain,
		LocalCertificate: ec.LocalCertificate,
		ChannelBinding:   ec.ChannelBinding,
		CreatedAt:        ec.CreatedAt,
		ExpiresAt:        ec.ExpiresAt,
	}
}

// Params are the OSCORE key-schedule inputs of an exported context
// (profile 4.5: no ID Context).
func (ec *ExportedContext) Params() oscore.Params {
	return oscore.Params{
		AEAD:         oscore.Algorithm(ec.Suite.AEAD),
		HKDF:         oscore.HKDF(ec.Suite.Hash),
		MasterSecret: ec.MasterSecret,
		MasterSalt:   ec.MasterSalt,
		SenderID:     ec.SenderID,
		RecipientID:  ec.RecipientID,
	}
}

// protectedRequest is a request of profile 5 or 6 before decryption.
type protectedRequest struct {
	cose   bool
	kid    []byte
	piv    []byte
	option oscore.Option
	object *oscore.Encrypt0
	body   []byte
}

// serveProtected serves an application/oscore or application/cose request
// (profile 5.7, 6.5): look the kid up, reject a replay before decryption,
// decrypt, mark the Partial IV only after that, atomically in the shared
// store, then run the inner request. Answers before decryption succeeds are
// plain text and change nothing; after it, every answer is protected.
func (s *Server) serveProtected(w http.ResponseWriter, r *http.Request, cose bool) {
	body, err := readFlight(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	pr, err := parseProtected(r, body, cose)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	ctx := r.Context()
	cc, cached, err := s.lookupContext(r, pr.kid, cose)
	if err != nil {
		writeError(w, err)
		return
	}
	keys, peer := cc.keys, cc.peer
	piv, err := oscore.DecodePIV(pr.piv)
	if err != nil {
		writeError(w, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if cc.window.Seen(piv) {
		writeError(w, errorf(http.StatusUnauthorized, "%v", oscore.ErrReplay))
		return
	}
	var plaintext []byte
	var st *oscore.RequestState
	if cose {
		plaintext, st, err = keys.OpenRequest(pr.object)
	} else {
		plaintext, st, err = keys.UnprotectRequest(pr.option, pr.body)
	}
	if err != nil {
		writeError(w, s.decryptFailed(r, pr.kid, piv, cached))
		return
	}
	switch err := s.cfg.Contexts.MarkSeen(ctx, pr.kid, piv); {
	case errors.Is(err, oscore.ErrReplay):
		writeError(w, errorf(http.StatusUnauthorized, "%v", oscore.ErrReplay))
		return
	case errors.Is(err, oscore.ErrContextNotFound):
		s.contextGone(pr.kid)
		writeError(w, errorf(http.StatusUnauthorized, "%v", oscore.ErrContextNotFound))
		return
	case err != nil:
		writeError(w, s.storeUnavailable(err))
		return
	}
	s.contexts.markSeen(pr.kid, piv)
	if cose {
		s.answerCOSE(w, r, keys, st, plaintext, peer)
	} else {
		s.answerOSCORE(w, r, keys, st, plaintext, peer)
	}
}

// lookupContext finds the context of kid, from the cache or the store,
// with its keys derived and its peer parsed; cached says it came from the
// cache. A kid the store recently did not know is answered from the miss
// cache without asking the store again.
func (s *Server) lookupContext(r *http.Request, kid []byte, cose bool) (cc cachedContext, cached bool, err error) {
	now := s.cfg.Now()
	cc, cached = s.contexts.get(kid, now)
	if !cached {
		if s.misses.missing(kid, now) {
			return cc, false, errorf(http.StatusUnauthorized, "%v", oscore.ErrContextNotFound)
		}
		if cc, err = s.loadContext(r, kid); err != nil {
			return cc, false, err
		}
	}
	if (cc.sc.Protocol == ProtoCOSE) != cose {
		return cc, cached, errorf(http.StatusUnauthorized, "%v", oscore.ErrContextNotFound)
	}
	return cc, cached, nil
}

// loadContext reads kid's context from the store and caches it.
func (s *Server) loadContext(r *http.Request, kid []byte) (cachedContext, error) {
	sc, err := s.cfg.Contexts.Get(r.Context(), kid)
	switch {
	case errors.Is(err, oscore.ErrContextNotFound):
		s.contextGone(kid)
		return cachedContext{}, errorf(http.StatusUnauthorized, "%v", oscore.ErrContextNotFound)
	case err != nil:
		return cachedContext{}, s.storeUnavailable(err)
	}
	keys, err := oscore.Derive(sc.Params)
	if err != nil {
		s.cfg.Logger.Error("atls: stored context unusable", "err", err)
		return cachedContext{}, errorf(http.StatusUnauthorized, "%v", oscore.ErrContextNotFound)
	}
	peer, err := peerOf(sc)
	if err != nil {
		s.cfg.Logger.Error("atls: stored peer certificate", "err", err)
	}
	cc := cachedContext{sc: sc, keys: keys, peer: peer}
	s.contexts.put(kid, cc, s.cfg.Now())
	cc.window = sc.Window
	return cc, nil
}

// contextGone forgets a context the store no longer has.
func (s *Server) contextGone(kid []byte) {
	s.contexts.drop(kid)
	s.misses.remember(kid, s.cfg.Now())
}

// decryptFailed is the answer to a request that did not decrypt (5.7):
// 400, unless the Partial IV was already in the window. The window check
// before decryption used the cached window, which misses what other
// replicas marked; so, for a cached context, the store's window decides
// (and refreshes the cache) before the request is called undecryptable.
func (s *Server) decryptFailed(r *http.Request, kid []byte, piv uint64, cached bool) error {
	if cached {
		s.contexts.drop(kid)
		cc, err := s.loadContext(r, kid)
		if err != nil {
			return err
		}
		if cc.window.Seen(piv) {
			return errorf(http.StatusUnauthorized, "%v", oscore.ErrReplay)
		}
	}
	return errorf(http.StatusBadRequest, "%v", oscore.ErrDecrypt)
}

// storeUnavailable logs a context-store failure and is the 503 it gets.
func (s *Server) storeUnavailable(err error) *httpError {
	s.cfg.Logger.Error("atls: context store", "err", err)
	return &httpError{status: http.StatusServiceUnavailable, reason: "security context store unavailable", retryAfter: s.cfg.RetryAfter}
}

func parseProtected(r *http.Request, body []byte, cose bool) (*protectedRequest, error) {
	pr := &protectedRequest{cose: cose, body: body}
	if cose {
		e, err := oscore.ParseEncrypt0(body)
		if err != nil {
			return nil, err
		}
		if e.PIV == nil {
			return nil, errors.New("COSE request without Partial IV")
		}
		pr.object, pr.kid, pr.piv = e, e.KID, e.PIV
		return pr, nil
	}
	raw, err := oscore.DecodeHeader(r.Header.Get(oscore.HeaderName))
	if err != nil {
		return nil, err
	}
	opt, err := oscore.ParseOption(raw)
	if err != nil {
		return nil, err
	}
	if opt.KID == nil || opt.PIV == nil {
		return nil, errors.New("OSCORE option of a request needs a kid and a Partial IV")
	}
	if len(body) == 0 {
		return nil, errors.New("OSCORE request without ciphertext")
	}
	pr.option, pr.kid, pr.piv = opt, opt.KID, opt.PIV
	return pr, nil
}

// peerOf rebuilds the identity of the handshake that exported sc.
func peerOf(sc *oscore.StoredContext) (*Peer, error) {
	var certs []*x509.Certificate
	var err error
	for _, der := range sc.PeerCertificates {
		c, perr := x509.ParseCertificate(der)
		if perr != nil {
			err = perr
			break
		}
		certs = append(certs, c)
	}
	return storedPeer(sc, certs), err
}

// storedPeer is the identity of the handshake that exported sc, whose
// peer presented certs (sc.PeerCertificates, parsed).
func storedPeer(sc *oscore.StoredContext, certs []*x509.Certificate) *Peer {
	cs := &tls.ConnectionState{
		Version:            tls.VersionTLS13,
		HandshakeComplete:  true,
		CipherSuite:        sc.TLSSuite,
		NegotiatedProtocol: sc.Protocol,
		PeerCertificates:   certs,
	}
	return &Peer{Protocol: sc.Protocol, ConnectionState: cs, LocalCertificate: sc.LocalCertificate, ChannelBinding: sc.ChannelBinding}
}

// answerOSCORE serves the inner CoAP request and protects the answer
// (profile 5.4): 200, application/oscore, OSCORE: AA.
func (s *Server) answerOSCORE(w http.ResponseWriter, r *http.Request, keys *oscore.Keys, st *oscore.RequestState, plaintext []byte, peer *Peer) {
	var msg *oscore.Message
	inner, err := oscore.UnmarshalMessage(plaintext)
	var req *http.Request
	if err == nil {
		req, err = oscore.MessageToRequest(WithPeer(r.Context(), peer), inner, r.Host)
	}
	if err != nil {
		msg = oscore.RefusalMessage(err)
	} else {
		rec := s.runInner(r, req, peer)
		msg = oscore.ResponseToMessage(req.Method, rec.statusCode(), rec.header, rec.body.Bytes())
	}
	opt, ct := keys.ProtectResponse(st, msg.Marshal())
	h := w.Header()
	h.Set("Content-Type", oscore.MediaType)
	h.Set(oscore.HeaderName, oscore.EncodeHeader(opt))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(ct)
}

// answerCOSE serves the inner HTTP/1.1 request and seals the answer
// (profile 6.3).
func (s *Server) answerCOSE(w http.ResponseWriter, r *http.Request, keys *oscore.Keys, st *oscore.RequestState, plaintext []byte, peer *Peer) {
	var resp []byte
	req, err := httpmsg.ReadRequestLimit(plaintext, MaxFlightSize)
	if err != nil {
		resp = innerErrorResponse(http.StatusBadRequest, "malformed inner request: "+err.Error())
	} else {
		req = req.WithContext(WithPeer(r.Context(), peer))
		resp = s.runInner(r, req, peer).serialize(req.Method)
	}
	w.Header().Set("Content-Type", oscore.COSEMediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(keys.SealResponse(st, resp))
}

// runInner runs the inner handler with the peer's identity.
func (s *Server) runInner(outer, req *http.Request, peer *Peer) *responseBuffer {
	req.RemoteAddr = outer.RemoteAddr
	req.TLS = peer.ConnectionState
	rec := newResponseBuffer()
	s.cfg.Handler.ServeHTTP(rec, req.WithContext(WithPeer(outer.Context(), peer)))
	return rec
}
