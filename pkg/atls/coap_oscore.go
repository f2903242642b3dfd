package atls

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/landfall-io/landfall/pkg/oscore"
)

// This file implements OSCORE natively over CoAP (profile 7.8, RFC 8613
// sections 4 and 8) on the server: a request carrying the OSCORE option is
// unprotected with the context a key-export handshake stored, checked
// against the same replay window in the same store as over HTTP (5.7), and
// its inner request runs through the handler the HTTP binding uses, so the
// registrar's constrained resources answer it. The answer is protected
// under the request's nonce and sent as 2.04 with an empty OSCORE option.

// OptOSCORE is the OSCORE option (RFC 8613 2): critical, unsafe, 0 to 255
// bytes.
const OptOSCORE message.OptionID = 9

// go-coap does not define option 9, and its UDP connection answers every
// Confirmable message with an unknown critical option 4.02 before any
// handler sees it (profile 7, implementation notes). Its option table is a
// package variable read by every decoder, so the definition is added once,
// at initialisation, before any server or client of this package can run.
func init() {
	message.CoapOptionDefs[OptOSCORE] = message.OptionDef{ValueFormat: message.ValueOpaque, MinLen: 0, MaxLen: 255}
}

// The reasons of profile 7.8 for the errors of RFC 8613 8.2 and 7.4.
const reasonDecodeCOSE = "Failed to decode COSE"

// serveOSCORE answers a request that carries the OSCORE option, whatever
// its outer path (profile 7.8). The outer code is POST, or FETCH for
// Observe (RFC 8613 4.2). Outer Block1 is reassembled before anything is
// verified, and Block2 continuations are cut from the protected answer
// kept for them (RFC 8613 4.1.3.4.2), without running OSCORE again.
func (c *CoAPServer) serveOSCORE(ctx context.Context, source netip.AddrPort, req *coapRequest, now time.Time) *coapAnswer {
	if req.code != codes.POST && req.code != codes.FETCH {
		return oscoreRefusal(codes.MethodNotAllowed, fmt.Sprintf("an OSCORE request's outer code is POST or FETCH, not %v", req.code))
	}
	key := transferKey(source.String(), "oscore", req.tag, req.hasTag)
	if req.block2 != nil && req.block2.num > 0 && req.block1 == nil {
		return c.continueAnswer(key, *req.block2, now)
	}
	body, a := c.reassembleOSCORE(key, req, now)
	if a != nil {
		return a
	}
	return c.firstBlock(key, c.unprotectAndRun(ctx, source, req.oscore, body), req, now)
}

// reassembleOSCORE collects an outer Block1 transfer up to
// MAX_UNFRAGMENTED_SIZE (the profile's 64 KiB, MaxFlightSize). It returns
// the whole protected payload, or the answer to send instead (2.31 for a
// block that is not the last, or an error).
func (c *CoAPServer) reassembleOSCORE(key string, req *coapRequest, now time.Time) ([]byte, *coapAnswer) {
	tooLarge := func() *coapAnswer {
		c.blocks.dropIncoming(key)
		a := oscoreRefusal(codes.RequestEntityTooLarge, fmt.Sprintf("protected message exceeds %d bytes", MaxFlightSize))
		a.size1 = u32(MaxFlightSize)
		return a
	}
	if req.size1 != nil && *req.size1 > MaxFlightSize {
		return nil, tooLarge()
	}
	b1 := req.block1
	if b1 == nil {
		if len(req.payload) > MaxFlightSize {
			return nil, tooLarge()
		}
		return req.payload, nil
	}
	off := b1.offset()
	switch {
	case off+len(req.payload) > MaxFlightSize:
		return nil, tooLarge()
	case b1.more && len(req.payload) != b1.size():
		c.blocks.dropIncoming(key)
		return nil, oscoreRefusal(codes.BadRequest, fmt.Sprintf("block %d carries %d bytes, not its size %d", b1.num, len(req.payload), b1.size()))
	case !b1.more && len(req.payload) > b1.size():
		c.blocks.dropIncoming(key)
		return nil, oscoreRefusal(codes.BadRequest, fmt.Sprintf("last block carries %d bytes, more than its size %d", len(req.payload), b1.size()))
	}
	body, err := c.blocks.addBlock(key, off, req.payload, now)
	switch {
	case errors.Is(err, errStoreFull):
		return nil, coapError(codes.ServiceUnavailable, err.Error()).withMaxAge(c.srv.cfg.RetryAfter)
	case err != nil:
		return nil, oscoreRefusal(codes.RequestEntityIncomplete, err.Error())
	}
	if b1.more {
		ack := *b1
		if ack.szx > c.szx {
			ack.szx = c.szx
			ack.num = uint32(off / ack.size())
		}
		return nil, &coapAnswer{code: codes.Continue, block1: &ack}
	}
	c.blocks.dropIncoming(key)
	return append([]byte(nil), body...), nil
}

// unprotectAndRun is RFC 8613 8.2 with the order of profile 5.7: decode
// the option, find the context by kid in the cache or the shared store,
// refuse a Partial IV already in the window, decrypt, and only then mark
// the Partial IV, atomically in the store, before the inner request runs.
// Until decryption succeeds the answers are unprotected and change no
// state; after it, every answer is protected.
func (c *CoAPServer) unprotectAndRun(ctx context.Context, source netip.AddrPort, rawOpt, body []byte) *coapAnswer {
	s := c.srv
	opt, err := oscore.ParseOption(rawOpt)
	if err != nil || opt.KID == nil || opt.PIV == nil || len(body) == 0 {
		return oscoreRefusal(codes.BadOption, reasonDecodeCOSE)
	}
	piv, err := oscore.DecodePIV(opt.PIV)
	if err != nil {
		return oscoreRefusal(codes.BadOption, reasonDecodeCOSE)
	}
	outer := c.outerRequest(ctx, source)
	cc, cached, err := s.lookupContext(outer, opt.KID, false)
	if err != nil {
		return c.oscoreFailure(err)
	}
	if cc.window.Seen(piv) {
		return oscoreRefusal(codes.Unauthorized, oscore.ErrReplay.Error())
	}
	plaintext, st, err := cc.keys.UnprotectRequest(opt, body)
	if err != nil {
		return c.oscoreFailure(s.decryptFailed(outer, opt.KID, piv, cached))
	}
	switch err := s.cfg.Contexts.MarkSeen(ctx, opt.KID, piv); {
	case errors.Is(err, oscore.ErrReplay):
		return oscoreRefusal(codes.Unauthorized, oscore.ErrReplay.Error())
	case errors.Is(err, oscore.ErrContextNotFound):
		s.contextGone(opt.KID)
		return oscoreRefusal(codes.Unauthorized, oscore.ErrContextNotFound.Error())
	case err != nil:
		return c.oscoreFailure(s.storeUnavailable(err))
	}
	s.contexts.markSeen(opt.KID, piv)
	return c.answerProtected(outer, cc.keys, st, plaintext, cc.peer)
}

// outerRequest stands for the outer CoAP request where the HTTP binding's
// context look-up and inner dispatch expect an HTTP request: it carries
// the context, the source and the binding's local address.
func (c *CoAPServer) outerRequest(ctx context.Context, source netip.AddrPort) *http.Request {
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.localAddr())
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.srv.cfg.Path, nil)
	r.RemoteAddr = source.String()
	r.Host = c.localAddr().String()
	return r
}

// answerProtected runs the inner CoAP request on the server's handler, as
// OSCORE over HTTP does (profile 5.4, 5.5), and protects its answer
// without a Partial IV: outer 2.04, empty OSCORE option (RFC 8613 4.2,
// 6.1). A malformed inner message gets a protected 4.00, an unsupported
// critical inner option (an inner Block1, say) a protected 4.02.
func (c *CoAPServer) answerProtected(outer *http.Request, keys *oscore.Keys, st *oscore.RequestState, plaintext []byte, peer *Peer) *coapAnswer {
	var msg *oscore.Message
	inner, err := oscore.UnmarshalMessage(plaintext)
	var req *http.Request
	if err == nil {
		req, err = oscore.MessageToRequest(WithPeer(outer.Context(), peer), inner, outer.Host)
	}
	if err != nil {
		msg = oscore.RefusalMessage(err)
	} else {
		rec := c.srv.runInner(outer, req, peer)
		msg = oscore.ResponseToMessage(req.Method, rec.statusCode(), rec.header, rec.body.Bytes())
	}
	opt, ct := keys.ProtectResponse(st, msg.Marshal())
	return &coapAnswer{code: codes.Changed, payload: ct, oscore: opt, hasOSCORE: true}
}

// oscoreRefusal is an unprotected error answer of profile 7.8: a
// diagnostic payload and Max-Age 0, so that no proxy caches it (RFC 8613
// 8.2).
func oscoreRefusal(code codes.Code, reason string) *coapAnswer {
	a := coapError(code, reason)
	a.maxAge = u32(0)
	return a
}

// oscoreFailure maps the HTTP binding's refusals of 5.7 to CoAP: 401 to
// 4.01, 400 to 4.00 (both Max-Age 0), an unavailable store to 5.03 with
// Max-Age saying when to come back.
func (c *CoAPServer) oscoreFailure(err error) *coapAnswer {
	var he *httpError
	if !errors.As(err, &he) {
		return oscoreRefusal(codes.InternalServerError, err.Error())
	}
	code, ok := httpToCoAP[he.status]
	if !ok {
		code = codes.InternalServerError
	}
	if code == codes.ServiceUnavailable {
		return coapError(code, he.reason).withMaxAge(he.retryAfter)
	}
	return oscoreRefusal(code, he.reason)
}
