package atls

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/net/responsewriter"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	udpserver "github.com/plgd-dev/go-coap/v3/udp/server"
)

// This file implements the server side of the CoAP binding (profile
// 7.1-7.7) on go-coap: Confirmable POSTs of flights to /.well-known/atls,
// the session's Location-Path, DELETE, the error codes of 7.5, and the
// order of the checks: exchange cache (7.4), path and session id (7.3),
// method, Content-Format, size (7.2), Echo (7.6), blocks, then the engine.

// CoAPConfig configures the CoAP binding of a Server.
type CoAPConfig struct {
	// Prefix is the public path before .well-known/atls, as segments,
	// when a proxy adds one (profile 7.1). Default none.
	Prefix []string
	// BlockSize is the largest block the server sends, and accepts before
	// asking for smaller ones with 2.31 (profile 7.2): 16 to 1024, a power
	// of two; default 1024.
	BlockSize int
	// MaxTransfers bounds the block-wise transfers held at once in each
	// direction; default 1024. Beyond it a new Block1 flight gets 5.03.
	MaxTransfers int
	// MaxExchanges bounds the exchange cache (7.4); default 65536.
	MaxExchanges int
	// MaxVerifiedSources bounds the sources remembered as verified (7.6);
	// default 65536. A forgotten source is challenged again.
	MaxVerifiedSources int
}

// CoAPServer serves the CoAP binding of a Server: its sessions live in
// the Server's session table, next to those of the HTTP binding.
type CoAPServer struct {
	srv       *Server
	cfg       CoAPConfig
	szx       uint8
	tls       *tls.Config
	blocks    *blockStore
	exchanges *exchangeCache
	echo      *echoVerifier
	boundAddr atomic.Pointer[net.UDPAddr]
	udp       atomic.Pointer[udpserver.Server]
	listener  atomic.Pointer[coapnet.UDPConn]
	stopped   atomic.Bool
	// flights counts the flights handed to the engine.
	flights atomic.Int64
}

// NewCoAPServer returns the CoAP binding of srv.
func NewCoAPServer(srv *Server, cfg CoAPConfig) (*CoAPServer, error) {
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 1024
	}
	if cfg.BlockSize < 16 || cfg.BlockSize > 1024 || cfg.BlockSize&(cfg.BlockSize-1) != 0 {
		return nil, fmt.Errorf("atls: CoAP block size %d is not a power of two from 16 to 1024", cfg.BlockSize)
	}
	if cfg.MaxTransfers == 0 {
		cfg.MaxTransfers = 1024
	}
	if cfg.MaxExchanges == 0 {
		cfg.MaxExchanges = 65536
	}
	if cfg.MaxVerifiedSources == 0 {
		cfg.MaxVerifiedSources = 65536
	}
	protos := coapProtocols(srv.cfg.Protocols)
	if len(protos) == 0 {
		return nil, errors.New("atls: the server offers no protocol usable over CoAP (atls-cose is not, profile 7.7)")
	}
	t := srv.tls.Clone()
	t.NextProtos = protos
	c := &CoAPServer{
		srv:       srv,
		cfg:       cfg,
		szx:       szxFor(cfg.BlockSize),
		tls:       t,
		blocks:    newBlockStore(cfg.MaxTransfers, srv.cfg.Lifetimes.HandshakeIdle),
		exchanges: newExchangeCache(cfg.MaxExchanges),
		echo:      newEchoVerifier(srv.cfg.SessionKey, cfg.MaxVerifiedSources),
	}
	return c, nil
}

// Serve answers CoAP on l until Stop. go-coap's block-wise layer is off:
// the binding does block-wise itself (see coap_blockwise.go).
func (c *CoAPServer) Serve(l *coapnet.UDPConn) error {
	if a, ok := l.LocalAddr().(*net.UDPAddr); ok {
		c.boundAddr.Store(a)
	}
	s := udp.NewServer(
		options.WithHandlerFunc(c.Handle),
		options.WithBlockwise(false, blockwise.SZX1024, time.Minute),
		options.WithErrors(func(err error) { c.srv.cfg.Logger.Debug("atls: coap", "err", err) }),
	)
	c.listener.Store(l)
	c.udp.Store(s)
	if c.stopped.Load() {
		return nil // Stop came first
	}
	return s.Serve(l)
}

// ListenAndServe listens on the UDP address addr and serves.
func (c *CoAPServer) ListenAndServe(addr string) error {
	l, err := coapnet.NewListenUDP("udp", addr)
	if err != nil {
		return err
	}
	defer l.Close()
	return c.Serve(l)
}

// Stop stops Serve.
//
// go-coap's Stop does not end a Serve that has not yet taken its listener
// (it would then read forever), so Stop also closes the listener, and a
// Serve that starts after Stop returns at once.
func (c *CoAPServer) Stop() {
	c.stopped.Store(true)
	if s := c.udp.Load(); s != nil {
		s.Stop()
	}
	if l := c.listener.Load(); l != nil {
		l.Close()
	}
}

// Handle is the go-coap handler of the binding; a go-coap server or mux
// can mount it for the ATLS resource and everything under it.
func (c *CoAPServer) Handle(w *responsewriter.ResponseWriter[*udpclient.Conn], r *pool.Message) {
	source := sourceOf(w.Conn().RemoteAddr())
	var a *coapAnswer
	req, err := parseCoAPRequest(r)
	if err != nil {
		a = coapError(codes.BadRequest, err.Error())
	} else {
		a = c.serve(r.Context(), source, req)
	}
	if a.code>>5 != 2 && !c.echo.isVerified(source.String(), c.srv.cfg.Now()) {
		a = withinAmplificationLimit(a, r)
	}
	a.writeTo(w.Message())
}

func sourceOf(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// coapRequest is what the binding reads from a CoAP request.
type coapRequest struct {
	typ           message.Type
	code          codes.Code
	mid           uint16
	path          []string
	contentFormat int // -1 when absent
	block1        *blockOption
	block2        *blockOption
	size1         *uint32
	echo          []byte
	tag           []byte
	hasTag        bool
	oscore        []byte // the OSCORE option's value (profile 7.8)
	hasOSCORE     bool
	payload       []byte
}

// parseCoAPRequest reads the options the binding uses; an option it
// cannot read is a 4.00.
func parseCoAPRequest(m *pool.Message) (*coapRequest, error) {
	req := &coapRequest{typ: m.Type(), code: m.Code(), mid: uint16(m.MessageID()), contentFormat: -1}
	for _, o := range m.Options() {
		if o.ID == message.URIPath {
			req.path = append(req.path, string(o.Value))
		}
	}
	if cf, err := m.ContentFormat(); err == nil {
		req.contentFormat = int(cf)
	}
	var err error
	if req.block1, err = blockOf(m, message.Block1); err != nil {
		return nil, err
	}
	if req.block2, err = blockOf(m, message.Block2); err != nil {
		return nil, err
	}
	if v, err := m.GetOptionUint32(message.Size1); err == nil {
		req.size1 = &v
	}
	if v, err := m.GetOptionBytes(message.Echo); err == nil {
		req.echo = v
	}
	if m.HasOption(message.RequestTag) {
		req.hasTag = true
		req.tag, _ = m.GetOptionBytes(message.RequestTag)
	}
	if m.HasOption(OptOSCORE) {
		req.hasOSCORE = true
		req.oscore, _ = m.GetOptionBytes(OptOSCORE)
	}
	body, err := m.ReadBody()
	if err != nil {
		return nil, fmt.Errorf("reading payload: %v", err)
	}
	req.payload = body
	return req, nil
}

func blockOf(m *pool.Message, id message.OptionID) (*blockOption, error) {
	v, err := m.GetOptionUint32(id)
	if errors.Is(err, message.ErrOptionNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %v", id, err)
	}
	b, err := decodeBlock(v)
	if err != nil {
		return nil, fmt.Errorf("%v: %v", id, err)
	}
	return &b, nil
}

// serve answers one request, from the exchange cache when it is a
// duplicate Confirmable message (7.4).
func (c *CoAPServer) serve(ctx context.Context, source netip.AddrPort, req *coapRequest) *coapAnswer {
	now := c.srv.cfg.Now()
	src := source.String()
	if req.typ == message.Confirmable {
		if a, ok := c.exchanges.lookup(src, req.mid, now); ok {
			return a
		}
	}
	a := c.dispatch(ctx, source, req, now)
	if req.typ == message.Confirmable {
		c.exchanges.store(src, req.mid, a, now)
	}
	return a
}

// sessionPath is the ATLS resource's path: the prefix, .well-known, atls.
func (c *CoAPServer) sessionPath() []string {
	return append(append([]string(nil), c.cfg.Prefix...), ".well-known", "atls")
}

// underResource returns the segments after the ATLS resource's path.
func (c *CoAPServer) underResource(path []string) ([]string, bool) {
	base := c.sessionPath()
	if len(path) < len(base) {
		return nil, false
	}
	for i, seg := range base {
		if path[i] != seg {
			return nil, false
		}
	}
	return path[len(base):], true
}

func (c *CoAPServer) dispatch(ctx context.Context, source netip.AddrPort, req *coapRequest, now time.Time) *coapAnswer {
	if req.hasOSCORE {
		return c.serveOSCORE(ctx, source, req, now)
	}
	if req.typ != message.Confirmable {
		return coapError(codes.BadRequest, "flights travel in Confirmable messages")
	}
	rest, ok := c.underResource(req.path)
	if !ok || len(rest) > 1 {
		return coapError(codes.NotFound, "no such resource")
	}
	sid := ""
	if len(rest) == 1 {
		// The integrity check comes before any other processing (7.3).
		sid = rest[0]
		if _, err := c.srv.sids.owner(sid); err != nil {
			return coapError(codes.NotFound, "unknown session")
		}
	}
	path := strings.Join(req.path, "/")
	switch req.code {
	case codes.POST:
	case codes.DELETE:
		if sid == "" {
			return coapError(codes.MethodNotAllowed, "DELETE needs a session's location")
		}
		c.blocks.dropPath(path)
		return c.deleteSession(ctx, source, sid)
	default:
		return coapError(codes.MethodNotAllowed, fmt.Sprintf("method %v not allowed on the ATLS resource", req.code))
	}
	if req.contentFormat != int(ContentFormatATLS) {
		return coapError(codes.UnsupportedMediaType, fmt.Sprintf("Content-Format must be %d (application/atls)", ContentFormatATLS))
	}
	key := transferKey(source.String(), path, req.tag, req.hasTag)
	if req.block2 != nil && req.block2.num > 0 && req.block1 == nil {
		return c.continueAnswer(key, *req.block2, now)
	}
	return c.receive(ctx, source, sid, key, req, now)
}

// receive takes one message of a flight (7.2): the size checks, the Echo
// challenge on the first message of a session-starting flight (7.6), the
// Block1 reassembly, and the complete flight to the engine.
func (c *CoAPServer) receive(ctx context.Context, source netip.AddrPort, sid, key string, req *coapRequest, now time.Time) *coapAnswer {
	tooLarge := func() *coapAnswer {
		c.blocks.dropIncoming(key)
		a := coapError(codes.RequestEntityTooLarge, fmt.Sprintf("flight exceeds %d bytes", MaxFlightSize))
		a.size1 = u32(MaxFlightSize)
		return a
	}
	if req.size1 != nil && *req.size1 > MaxFlightSize {
		return tooLarge()
	}
	b1 := req.block1
	first := b1 == nil || b1.num == 0
	if sid == "" && first && !c.echo.isVerified(source.String(), now) && !c.echo.accept(req.echo, source.String(), now) {
		return c.challenge(source, now)
	}
	flight := req.payload
	if b1 != nil {
		off := b1.offset()
		switch {
		case off+len(req.payload) > MaxFlightSize:
			return tooLarge()
		case b1.more && len(req.payload) != b1.size():
			c.blocks.dropIncoming(key)
			return coapError(codes.BadRequest, fmt.Sprintf("block %d carries %d bytes, not its size %d", b1.num, len(req.payload), b1.size()))
		case !b1.more && len(req.payload) > b1.size():
			c.blocks.dropIncoming(key)
			return coapError(codes.BadRequest, fmt.Sprintf("last block carries %d bytes, more than its size %d", len(req.payload), b1.size()))
		}
		body, err := c.blocks.addBlock(key, off, req.payload, now)
		switch {
		case errors.Is(err, errStoreFull):
			return coapError(codes.ServiceUnavailable, err.Error()).withMaxAge(c.srv.cfg.RetryAfter)
		case err != nil:
			return coapError(codes.RequestEntityIncomplete, err.Error())
		}
		if b1.more {
			ack := *b1
			if ack.szx > c.szx {
				// RFC 7959 2.3: the server asks for smaller blocks; the
				// client goes on at the offset it reached.
				ack.szx = c.szx
				ack.num = uint32(off / ack.size())
			}
			return &coapAnswer{code: codes.Continue, block1: &ack}
		}
		c.blocks.dropIncoming(key)
		flight = body
	} else if len(flight) > MaxFlightSize {
		return tooLarge()
	}
	c.flights.Add(1)
	a := c.runFlight(ctx, source, sid, flight)
	return c.firstBlock(key, a, req, now)
}

// challenge is the 4.01 of profile 7.6: an Echo value, Max-Age 0, and a
// diagnostic short enough that the answer stays within three times the
// smallest request that can draw it.
func (c *CoAPServer) challenge(source netip.AddrPort, now time.Time) *coapAnswer {
	a := coapError(codes.Unauthorized, "Echo required")
	a.echo = c.echo.challenge(source.String(), now)
	a.maxAge = u32(0)
	return a
}

// firstBlock sends an answer larger than one block as Block2 (7.2), in
// the request's Block2 size, else its Block1 size, else the server's, and
// keeps it for the continuations. The final Block1 is acknowledged.
func (c *CoAPServer) firstBlock(key string, a *coapAnswer, req *coapRequest, now time.Time) *coapAnswer {
	szx := c.szx
	switch {
	case req.block2 != nil:
		szx = min(szx, req.block2.szx)
	case req.block1 != nil:
		szx = min(szx, req.block1.szx)
	}
	var ack *blockOption
	if req.block1 != nil {
		ack = &blockOption{num: req.block1.num, szx: req.block1.szx}
	}
	if len(a.payload) <= 16<<szx {
		a.block1 = ack
		return a
	}
	c.blocks.keepAnswer(key, a, now)
	out, _ := a.block(blockOption{num: 0, szx: szx})
	out.block1 = ack
	return out
}

// continueAnswer serves a Block2 continuation from the answer kept for it
// (7.2); the flight is not run again.
func (c *CoAPServer) continueAnswer(key string, b blockOption, now time.Time) *coapAnswer {
	a := c.blocks.answer(key, now)
	if a == nil {
		return coapError(codes.RequestEntityIncomplete, "no answer in progress to continue")
	}
	if b.szx > c.szx {
		off := b.offset()
		b.szx = c.szx
		b.num = uint32(off / b.size())
	}
	out, ok := a.block(b)
	if !ok {
		return coapError(codes.BadRequest, fmt.Sprintf("block %d is beyond the end of the answer", b.num))
	}
	return out
}

// CoAPStats is a snapshot of the binding's own state.
type CoAPStats struct {
	Flights   int64 // flights handed to the engine since start
	Exchanges int   // entries of the exchange cache
	Incoming  int   // Block1 flights being reassembled
	Outgoing  int   // answers kept for Block2 continuations
}

// Stats reports the binding's counters; the sessions themselves are in
// the Server's Stats.
func (c *CoAPServer) Stats() CoAPStats {
	in, out := c.blocks.counts()
	return CoAPStats{Flights: c.flights.Load(), Exchanges: c.exchanges.len(), Incoming: in, Outgoing: out}
}
