package atls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/landfall-io/landfall/pkg/atls/httpmsg"
)

// This file implements records mode (profile 3): inner HTTP/1.1 requests
// and responses (3.2) carried in TLS application data, served by the inner
// handler with the TLS peer as the client identity (3.3). The inner message
// checks and the response buffer are shared with COSE mode (6).

// MaxInnerResponse bounds an inner response body; a handler that writes more
// gets its response replaced by a 500.
const MaxInnerResponse = 1 << 20

type peerKey struct{}

// Peer is the identity an ATLS session proved, available to inner handlers
// through PeerFromContext in every mode.
type Peer struct {
	// Protocol is the negotiated ALPN.
	Protocol string
	// ConnectionState is the inner TLS session's state; its
	// PeerCertificates hold the client's verified chain, leaf first. For
	// protected requests it is rebuilt from the stored context.
	ConnectionState *tls.ConnectionState
	// LocalCertificate is the DER certificate the server presented.
	LocalCertificate []byte
	// ChannelBinding is the RFC 9266 tls-exporter value.
	ChannelBinding []byte
}

// PeerFromContext returns the ATLS peer of an inner request.
func PeerFromContext(ctx context.Context) (*Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(*Peer)
	return p, ok
}

// WithPeer returns ctx carrying p.
func WithPeer(ctx context.Context, p *Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// checkInnerRequest enforces profile 3.2 on a parsed inner request.
func checkInnerRequest(req *http.Request) error {
	switch {
	case len(req.TransferEncoding) > 0:
		return fmt.Errorf("inner requests must not use Transfer-Encoding")
	case req.Header.Get("Expect") != "":
		return fmt.Errorf("inner requests must not carry Expect")
	case req.Header.Get("Upgrade") != "":
		return fmt.Errorf("inner requests must not carry Upgrade")
	case req.URL.Scheme != "" || req.URL.Host != "" && req.RequestURI != "" && req.RequestURI[0] != '/':
		return fmt.Errorf("inner request target must be in origin-form")
	}
	return nil
}

// serveInner runs the inner handler for one request and returns the
// serialised inner response (profile 3.2, 3.3). The outer request supplies
// the context and the client address; the inner TLS session supplies the
// identity in r.TLS.
func (s *Server) serveInner(outer *http.Request, req *http.Request, peer *Peer) []byte {
	if err := checkInnerRequest(req); err != nil {
		return innerErrorResponse(http.StatusBadRequest, err.Error())
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxFlightSize+1))
	if err != nil {
		return innerErrorResponse(http.StatusBadRequest, "reading inner body: "+err.Error())
	}
	if len(body) > MaxFlightSize {
		return innerErrorResponse(http.StatusRequestEntityTooLarge, "inner body too large")
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return s.runInner(outer, req, peer).serialize(req.Method)
}

// responseBuffer is the http.ResponseWriter of inner requests.
type responseBuffer struct {
	header  http.Header
	status  int
	body    bytes.Buffer
	tooLong bool
}

func newResponseBuffer() *responseBuffer {
	return &responseBuffer{header: make(http.Header)}
}

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(status int) {
	if b.status == 0 && status >= 200 {
		b.status = status
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if b.tooLong || b.body.Len()+len(p) > MaxInnerResponse {
		b.tooLong = true
		return 0, fmt.Errorf("atls: inner response exceeds %d bytes", MaxInnerResponse)
	}
	return b.body.Write(p)
}

// statusCode is the status the handler set, 200 by default, or 500 when
// its response was too large.
func (b *responseBuffer) statusCode() int {
	switch {
	case b.tooLong:
		b.header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
		b.body.Reset()
		b.body.WriteString("inner response too large\n")
		return http.StatusInternalServerError
	case b.status == 0:
		return http.StatusOK
	}
	return b.status
}

// serialize writes the response as profile 3.2 wants it: a status line,
// Content-Length unless 204/304, never chunked.
func (b *responseBuffer) serialize(method string) []byte {
	status := b.statusCode()
	out, err := httpmsg.AppendResponse(nil, status, b.header, b.body.Bytes(), method == http.MethodHead)
	if err != nil {
		return innerErrorResponse(http.StatusInternalServerError, "inner response cannot be framed: "+err.Error())
	}
	return out
}

// innerErrorResponse is a plain-text inner response.
func innerErrorResponse(status int, reason string) []byte {
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}}
	out, err := httpmsg.AppendResponse(nil, status, h, []byte(reason+"\n"), false)
	if err != nil {
		panic("atls: unframeable error response: " + err.Error()) // statuses here are constants
	}
	return out
}

// serveRecords runs records mode (profile 3): each flight carries exactly
// one inner HTTP/1.1 request, answered by one inner response.
//
// An established session waits at a request boundary for RecordsIdle
// (1.9) without a read buffer: it blocks on one byte from the TLS
// connection, takes a 4 kB reader from innerReaders when a request starts,
// and gives it back once the request is served and nothing more is
// buffered. A session that never sends an inner request allocates none.
func (s *Server) serveRecords(sess *session, tc *tls.Conn, cs *tls.ConnectionState) {
	cb, _ := channelBinding(cs)
	peer := &Peer{Protocol: ProtoRecords, ConnectionState: cs, LocalCertificate: tc.NetConn().(*flightConn).localCert, ChannelBinding: cb}
	src := &firstByteReader{r: tc}
	var br *bufio.Reader
	defer func() {
		if br != nil {
			putInnerReader(br)
		}
	}()
	for {
		// The read blocks at a request boundary; a flight that ends
		// anywhere else is an incomplete request (see conclude).
		sess.awaitingInner.Store(true)
		if br == nil {
			if !src.fill() {
				return
			}
			br = innerReaders.Get().(*bufio.Reader)
			br.Reset(src)
		} else if _, err := br.Peek(1); err != nil {
			return
		}
		sess.awaitingInner.Store(false)
		req, err := http.ReadRequest(br)
		if err != nil {
			tc.Write(innerErrorResponse(http.StatusBadRequest, "malformed inner request: "+err.Error()))
			return
		}
		tc.Write(s.serveInner(sess.outer, req, peer))
		if br.Buffered() == 0 && !src.pending() {
			putInnerReader(br)
			br = nil
		}
	}
}

// innerReaders holds the read buffers of inner requests (see serveRecords).
var innerReaders = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

func putInnerReader(br *bufio.Reader) {
	br.Reset(nil)
	innerReaders.Put(br)
}

// firstByteReader reads the first byte of an inner request without a
// buffer, then hands it and the rest of the connection to a bufio.Reader.
type firstByteReader struct {
	r   io.Reader
	b   [1]byte
	has bool  // b holds a byte not yet read
	err error // returned with the byte, delivered after it
}

// fill blocks until the next byte arrives; false means the connection
// ended first.
func (f *firstByteReader) fill() bool {
	for {
		n, err := f.r.Read(f.b[:])
		if n > 0 {
			f.has, f.err = true, err
			return true
		}
		if err != nil {
			return false
		}
	}
}

// pending reports whether the byte or its error is still to be delivered.
func (f *firstByteReader) pending() bool { return f.has || f.err != nil }

func (f *firstByteReader) Read(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return 0, nil
	case f.has:
		p[0], f.has = f.b[0], false
		return 1, nil
	case f.err != nil:
		err := f.err
		f.err = nil
		return 0, err
	}
	return f.r.Read(p)
}
