package atls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// This file implements the client side of the CoAP binding (profile
// 7.1-7.7): each flight as Confirmable POSTs, block-wise with Size1, the
// Echo challenge answered from block 0, the session's Location-Path, the
// retries of 7.4 and the DELETE at the end. The TLS side is the HTTP
// client's (http_client.go): only the carrier of the flights differs.

// CoAPClient runs ATLS from the pledge's side over CoAP on UDP.
type CoAPClient struct {
	// Addr is the server's UDP endpoint, host:port.
	Addr string
	// Prefix is the public path before .well-known/atls, as segments.
	Prefix []string
	// TLS, Protocols, Provisional, CID, FlightTimeout and ContextLifetime
	// are those of Client. Over CoAP the server offers atls-oscore and
	// possibly http/1.1, never atls-cose (profile 7.7).
	TLS             *tls.Config
	Protocols       []string
	Provisional     bool
	CID             []byte
	FlightTimeout   time.Duration
	ContextLifetime time.Duration
	// BlockSize is the size of the blocks the client sends and asks for:
	// a power of two from 16 to 1024; default 1024.
	BlockSize int
	// ExchangeTimeout bounds one exchange, go-coap's retransmissions of
	// the Confirmable message included; default 15 s (go-coap gives up
	// after four retransmissions, about 10 s).
	ExchangeTimeout time.Duration
	// Attempts is how often a flight is sent, in new exchanges, when an
	// exchange times out or the server lost the earlier blocks (7.4);
	// default 3.
	Attempts int
}

// CoAPStatusError is an error answer of the server over CoAP (profile
// 7.5): its code, the diagnostic payload, and Max-Age when present (4.29
// and 5.03 say when to come back).
type CoAPStatusError struct {
	Code   codes.Code
	Reason string
	MaxAge time.Duration
	// HasMaxAge tells a Max-Age 0 from none.
	HasMaxAge bool
}

func (e *CoAPStatusError) Error() string {
	return fmt.Sprintf("atls: server answered %v: %s", e.Code, e.Reason)
}

// Handshake runs the TLS 1.3 handshake over CoAP and, in the key-export
// mode, the connection-ID exchange and key export. Close the session to
// delete it on the server (which also erases the server's context).
func (c *CoAPClient) Handshake(ctx context.Context) (*ClientSession, error) {
	if c.blockSize() < 16 || c.blockSize() > 1024 || c.blockSize()&(c.blockSize()-1) != 0 {
		return nil, fmt.Errorf("atls: CoAP block size %d is not a power of two from 16 to 1024", c.blockSize())
	}
	carrier, err := c.dial()
	if err != nil {
		return nil, err
	}
	hc := &Client{TLS: c.TLS, Protocols: c.Protocols, Provisional: c.Provisional, CID: c.CID,
		FlightTimeout: c.FlightTimeout, ContextLifetime: c.ContextLifetime}
	return hc.handshake(ctx, carrier)
}

// dial opens the session's UDP socket, with go-coap's block-wise layer
// off: the carrier does block-wise itself.
func (c *CoAPClient) dial() (*coapCarrier, error) {
	conn, err := udp.Dial(c.Addr, options.WithBlockwise(false, blockwise.SZX1024, time.Minute))
	if err != nil {
		return nil, fmt.Errorf("atls: %w", err)
	}
	return &coapCarrier{client: c, conn: conn, szx: szxFor(c.blockSize())}, nil
}

func (c *CoAPClient) blockSize() int {
	if c.BlockSize == 0 {
		return 1024
	}
	return c.BlockSize
}

func (c *CoAPClient) resourcePath() []string {
	return append(append([]string(nil), c.Prefix...), ".well-known", "atls")
}

// coapCarrier carries one session's flights over one UDP socket.
type coapCarrier struct {
	client   *CoAPClient
	conn     *udpclient.Conn
	szx      uint8
	location []string // the session's Location-Path (7.3)
}

// errExchangeTimeout is an exchange that drew no answer in time.
var errExchangeTimeout = errors.New("atls: no CoAP answer in time")

// post sends one flight, in new exchanges when an exchange is lost or the
// server lost earlier blocks (7.4), and returns the server's flight.
func (t *coapCarrier) post(ctx context.Context, sid string, flight []byte) ([]byte, string, error) {
	path := t.client.resourcePath()
	if sid != "" {
		path = t.location
	}
	attempts := t.client.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	var err error
	for range attempts {
		var a *coapReply
		a, err = t.sendFlight(ctx, path, flight)
		var se *CoAPStatusError
		switch {
		case err == nil:
			return t.accept(sid, a)
		case ctx.Err() != nil:
			return nil, "", ctx.Err()
		case errors.Is(err, errExchangeTimeout), errors.As(err, &se) && se.Code == codes.RequestEntityIncomplete:
			continue
		default:
			return nil, "", err
		}
	}
	return nil, "", err
}

// accept checks the answer of a flight (7.3): 2.01 with a Location-Path
// for the first, 2.04 for later ones, Content-Format 65001 on both.
func (t *coapCarrier) accept(sid string, a *coapReply) ([]byte, string, error) {
	if !a.contentFormat {
		return nil, "", fmt.Errorf("atls: %v answer without Content-Format %d", a.code, ContentFormatATLS)
	}
	if sid != "" {
		if a.code != codes.Changed {
			return nil, "", fmt.Errorf("atls: later flight answered %v, not 2.04", a.code)
		}
		return a.payload, "", nil
	}
	if a.code != codes.Created || len(a.location) == 0 {
		return nil, "", fmt.Errorf("atls: first flight answered %v with Location-Path %q, not 2.01 with a session", a.code, a.location)
	}
	t.location = a.location
	return a.payload, strings.Join(a.location, "/"), nil
}

// end deletes the session (7.3: 2.02, or 4.04 when it is already gone)
// and closes the socket.
func (t *coapCarrier) end(ctx context.Context, sid string) error {
	defer t.conn.Close()
	if sid == "" || t.location == nil {
		return nil
	}
	r, err := t.exchange(ctx, codes.DELETE, t.location, nil, nil)
	if err != nil {
		return err
	}
	if r.code != codes.Deleted && r.code != codes.NotFound {
		return r.statusError()
	}
	return nil
}

// coapReply is what the client reads from one CoAP response.
type coapReply struct {
	code          codes.Code
	payload       []byte
	contentFormat bool
	location      []string
	echo          []byte
	maxAge        *uint32
	block1        *blockOption
	block2        *blockOption
	oscore        []byte // the OSCORE option of a protected answer (7.8)
	hasOSCORE     bool
}

func (r *coapReply) statusError() *CoAPStatusError {
	e := &CoAPStatusError{Code: r.code, Reason: string(r.payload)}
	if r.maxAge != nil {
		e.MaxAge, e.HasMaxAge = time.Duration(*r.maxAge)*time.Second, true
	}
	return e
}

// sendFlight sends a flight block by block (7.2) and collects the answer,
// continuing its Block2 blocks. A 4.01 with Echo sends the flight again
// from block 0 with the Echo value (7.6), once.
func (t *coapCarrier) sendFlight(ctx context.Context, path []string, flight []byte) (*coapReply, error) {
	return t.sendBlockwise(ctx, path, flight, nil)
}

// sendBlockwise sends body as sendFlight does; a non-nil oscoreOpt makes
// every message of it an OSCORE request (profile 7.8): the option on each
// block and continuation, no Uri-Path or Content-Format outside.
func (t *coapCarrier) sendBlockwise(ctx context.Context, path []string, flight, oscoreOpt []byte) (*coapReply, error) {
	var echo []byte
restart:
	szx := t.szx
	split := len(flight) > 16<<szx
	for off := 0; ; {
		size := 16 << szx
		end := min(off+size, len(flight))
		more := end < len(flight)
		opts := requestOptions{block2: &blockOption{szx: szx}, echo: echo, oscore: oscoreOpt}
		if split {
			opts.block1 = &blockOption{num: uint32(off / size), more: more, szx: szx}
			if off == 0 {
				opts.size1 = u32(uint32(len(flight)))
			}
		}
		if more {
			opts.block2 = nil
		}
		r, err := t.exchange(ctx, codes.POST, path, flight[off:end], &opts)
		if err != nil {
			return nil, err
		}
		switch {
		case r.code == codes.Unauthorized && r.echo != nil && echo == nil:
			echo = r.echo
			goto restart
		case r.code == codes.Continue:
			if !more || r.block1 == nil {
				return nil, errors.New("atls: unexpected 2.31 Continue")
			}
			// The server may ask for smaller blocks (RFC 7959 2.3).
			szx = min(szx, r.block1.szx)
			off = end
			continue
		case r.code>>5 != 2:
			return nil, r.statusError()
		case more:
			return nil, fmt.Errorf("atls: server answered %v before the last block", r.code)
		}
		return t.collect(ctx, path, r, oscoreOpt)
	}
}

// collect fetches the remaining Block2 blocks of an answer (7.2): the
// request's code and options again, no Block1 and no payload.
func (t *coapCarrier) collect(ctx context.Context, path []string, first *coapReply, oscoreOpt []byte) (*coapReply, error) {
	if first.block2 == nil {
		return first, nil
	}
	out := *first
	out.payload = bytes.Clone(first.payload)
	b := *first.block2
	for b.more {
		next := blockOption{num: uint32(len(out.payload) / b.size()), szx: b.szx}
		r, err := t.exchange(ctx, codes.POST, path, nil, &requestOptions{block2: &next, oscore: oscoreOpt})
		if err != nil {
			return nil, err
		}
		if r.code != first.code || r.block2 == nil || r.block2.offset() != len(out.payload) {
			return nil, fmt.Errorf("atls: Block2 continuation answered %v with block %v", r.code, r.block2)
		}
		out.payload = append(out.payload, r.payload...)
		if len(out.payload) > MaxInnerResponse+MaxFlightSize {
			return nil, errors.New("atls: answer too large")
		}
		b = *r.block2
	}
	out.block2 = nil
	return &out, nil
}

// requestOptions are the block-wise and Echo options of one request.
type requestOptions struct {
	block1, block2 *blockOption
	size1          *uint32
	echo           []byte
	oscore         []byte // non-nil: the OSCORE option (profile 7.8)
}

// exchange sends one Confirmable request and reads its answer. go-coap
// retransmits the message with the same message ID (RFC 7252 4.2) until
// the answer or ExchangeTimeout.
func (t *coapCarrier) exchange(ctx context.Context, code codes.Code, path []string, payload []byte, o *requestOptions) (*coapReply, error) {
	timeout := t.client.ExchangeTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := t.conn.AcquireMessage(ectx)
	defer t.conn.ReleaseMessage(req)
	token, err := message.GetToken()
	if err != nil {
		return nil, err
	}
	req.SetCode(code)
	req.SetToken(token)
	req.SetType(message.Confirmable)
	for _, seg := range path {
		req.AddOptionString(message.URIPath, seg)
	}
	if code == codes.POST && (o == nil || o.oscore == nil) {
		req.SetContentFormat(ContentFormatATLS)
	}
	if o != nil {
		if o.block1 != nil {
			req.SetOptionUint32(message.Block1, o.block1.encode())
		}
		if o.block2 != nil {
			req.SetOptionUint32(message.Block2, o.block2.encode())
		}
		if o.size1 != nil {
			req.SetOptionUint32(message.Size1, *o.size1)
		}
		if o.echo != nil {
			req.SetOptionBytes(message.Echo, o.echo)
		}
		if o.oscore != nil {
			req.SetOptionBytes(OptOSCORE, o.oscore)
		}
	}
	if len(payload) > 0 {
		req.SetBody(bytes.NewReader(payload))
	}
	resp, err := t.conn.Do(req)
	if err != nil {
		if ectx.Err() != nil && ctx.Err() == nil {
			return nil, errExchangeTimeout
		}
		return nil, fmt.Errorf("atls: %w", err)
	}
	defer t.conn.ReleaseMessage(resp)
	return readReply(resp)
}

// readReply reads the options the client uses from a response.
func readReply(m *pool.Message) (*coapReply, error) {
	r := &coapReply{code: m.Code()}
	for _, o := range m.Options() {
		if o.ID == message.LocationPath {
			r.location = append(r.location, string(o.Value))
		}
	}
	if cf, err := m.ContentFormat(); err == nil && cf == ContentFormatATLS {
		r.contentFormat = true
	}
	if v, err := m.GetOptionBytes(message.Echo); err == nil {
		r.echo = bytes.Clone(v)
	}
	if v, err := m.GetOptionUint32(message.MaxAge); err == nil {
		r.maxAge = &v
	}
	if m.HasOption(OptOSCORE) {
		r.hasOSCORE = true
		v, _ := m.GetOptionBytes(OptOSCORE)
		r.oscore = bytes.Clone(v)
	}
	var err error
	if r.block1, err = blockOf(m, message.Block1); err != nil {
		return nil, fmt.Errorf("atls: answer: %w", err)
	}
	if r.block2, err = blockOf(m, message.Block2); err != nil {
		return nil, fmt.Errorf("atls: answer: %w", err)
	}
	body, err := m.ReadBody()
	if err != nil {
		return nil, fmt.Errorf("atls: answer payload: %w", err)
	}
	r.payload = bytes.Clone(body)
	return r, nil
}
