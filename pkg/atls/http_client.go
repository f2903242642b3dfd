package atls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file implements the client side of the HTTP binding (profile 1.1-1.8)
// and of records mode (3): flights as POST bodies, the atls cookie, the
// client's carrier (4.1, 4.2) and DELETE.

// Client runs ATLS from the pledge's side (profile sections 1-4) through any
// http.Client, so that proxies and TLS-terminating load balancers in the
// path are ordinary HTTP hops.
type Client struct {
	// URL of the ATLS resource, e.g. https://registrar.example/.well-known/atls.
	URL string
	// HTTP carries the flights; nil means http.DefaultClient.
	HTTP *http.Client
	// TLS holds the client certificate (the IDevID) and the server
	// verification settings of the inner session. TLS 1.3 is forced.
	TLS *tls.Config
	// Protocols is the ALPN offer, most preferred first; empty sends no
	// ALPN extension, which selects records mode (profile 2.3).
	Protocols []string
	// Provisional skips verification of the server certificate and hands
	// it to the caller in the session's ConnectionState, for BRSKI's
	// provisional acceptance (RFC 8995 5.1).
	Provisional bool
	// CID is the client connection ID for the key-export modes (profile
	// 4.3): 0 to 6 bytes (7 with CCM). Default empty.
	CID []byte
	// FlightTimeout bounds the local processing of one flight; default 30 s.
	FlightTimeout time.Duration
	// ContextLifetime sets ExpiresAt of an exported context; default 24 h.
	ContextLifetime time.Duration
}

// StatusError is an HTTP-level error answer of the server (profile 1.5).
type StatusError struct {
	StatusCode int
	Reason     string
	RetryAfter time.Duration // from Retry-After, when present
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("atls: server answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Reason)
}

// ClientSession is an established ATLS session.
type ClientSession struct {
	client *Client
	sid    string
	// cookieHeader is the Cookie header that names sid, made once.
	cookieHeader []string
	state        tls.ConnectionState

	mu   sync.Mutex // one inner request at a time (records mode)
	conn *flightConn
	tc   *tls.Conn

	exported *ExportedContext

	// carrier sends the flights when they do not travel over HTTP (the
	// CoAP binding, profile 7); nil means the HTTP binding.
	carrier flightCarrier
}

// flightCarrier is a binding other than HTTP that carries a session's
// flights: post sends one flight and returns the answer and, for the
// first, the session's name; end deletes the session on the server when
// sid is set, and releases the carrier.
type flightCarrier interface {
	post(ctx context.Context, sid string, flight []byte) (answer []byte, newSID string, err error)
	end(ctx context.Context, sid string) error
}

// Handshake runs the TLS 1.3 handshake through HTTP POSTs and, in a
// key-export mode, the connection-ID exchange and key export.
func (c *Client) Handshake(ctx context.Context) (*ClientSession, error) {
	return c.handshake(ctx, nil)
}

// handshake runs the client's side of the profile over carrier (nil: HTTP).
//
// The TLS engine runs in the caller's goroutine: the flight connection
// sends each flight and feeds the answer itself when the engine waits for
// input (flightConn.exchange), so a handshake costs no goroutine, channel
// or timer on the client.
func (c *Client) handshake(ctx context.Context, carrier flightCarrier) (*ClientSession, error) {
	cfg := c.tlsConfig()
	conn := newFlightConn(&net.TCPAddr{}, &net.TCPAddr{})
	tc := tls.Client(conn, cfg)
	s := &ClientSession{client: c, conn: conn, tc: tc, carrier: carrier}

	// FlightTimeout bounds the local processing of each flight: from the
	// start (building the ClientHello) or from the arrival of an answer
	// until the engine has its next flight ready.
	timeout := c.flightTimeout()
	var exchangeErr error
	fed := time.Now()
	conn.exchange = func(flight []byte) ([]byte, error) {
		if time.Since(fed) > timeout {
			exchangeErr = errFlightTimeout
			return nil, exchangeErr
		}
		answer, err := s.post(ctx, flight)
		if err == nil && len(answer) == 0 {
			err = errors.New("atls: server sent an empty flight during the handshake")
		}
		if err != nil {
			exchangeErr = err
			return nil, err
		}
		fed = time.Now()
		return answer, nil
	}
	hsErr := tc.HandshakeContext(ctx)
	out := conn.take()
	if exchangeErr == nil && time.Since(fed) > timeout {
		exchangeErr = errFlightTimeout
	}
	if exchangeErr != nil {
		s.abandon(ctx)
		return nil, exchangeErr
	}
	if hsErr != nil {
		// Tell the server why (our alert), then forget the session.
		if len(out) > 0 && s.sid != "" {
			_, _ = s.post(ctx, out)
		}
		s.abandon(ctx)
		return nil, fmt.Errorf("atls: handshake: %w", hsErr)
	}
	conn.setNoWait()
	s.state = tc.ConnectionState()
	proto := s.state.NegotiatedProtocol
	if proto == "" && len(c.Protocols) > 0 && !slices.Contains(c.Protocols, ProtoRecords) {
		s.abandon(ctx)
		return nil, fmt.Errorf("atls: server selected no application protocol from %v", c.Protocols)
	}
	var err error
	if isKeyExport(proto) {
		err = s.exchangeCarriers(ctx, out)
	} else {
		err = s.finishRecords(ctx, out)
	}
	if err != nil {
		s.abandon(ctx)
		return nil, err
	}
	return s, nil
}

func (c *Client) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if c.TLS != nil {
		cfg = c.TLS.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cfg.MinVersion = tls.VersionTLS13
	cfg.MaxVersion = tls.VersionTLS13
	cfg.NextProtos = append([]string(nil), c.Protocols...)
	if c.Provisional {
		cfg.InsecureSkipVerify = true
	}
	return cfg
}

func (c *Client) flightTimeout() time.Duration {
	if c.FlightTimeout > 0 {
		return c.FlightTimeout
	}
	return 30 * time.Second
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// finishRecords sends the client's Finished in records mode. The answer is
// empty unless the server rejected us, in which case it holds an alert.
func (s *ClientSession) finishRecords(ctx context.Context, finished []byte) error {
	answer, err := s.post(ctx, finished)
	if err != nil {
		return err
	}
	if len(answer) == 0 {
		return nil
	}
	s.conn.feed(answer)
	var b [1]byte
	if _, err := s.tc.Read(b[:]); err != nil && !errors.As(err, new(errWouldBlock)) {
		return fmt.Errorf("atls: server rejected the handshake: %w", err)
	}
	return errors.New("atls: unexpected application data after the handshake")
}

// exchangeCarriers sends the client's connection-ID carrier with its
// Finished, reads the server's, and exports the context (profile 4.1-4.4).
func (s *ClientSession) exchangeCarriers(ctx context.Context, finished []byte) error {
	p, ok := SuiteTable[s.state.CipherSuite]
	if !ok {
		return fmt.Errorf("atls: cipher suite %#04x has no key-export mapping", s.state.CipherSuite)
	}
	if len(s.client.CID) > p.MaxIDLen() {
		return fmt.Errorf("atls: client CID of %d bytes exceeds %d", len(s.client.CID), p.MaxIDLen())
	}
	ext := carrierType(s.state.NegotiatedProtocol)
	if _, err := s.tc.Write(appendCarrier(nil, ext, s.client.CID)); err != nil {
		return err
	}
	answer, err := s.post(ctx, append(finished, s.conn.take()...))
	if err != nil {
		return err
	}
	s.conn.feed(answer)
	serverCID, err := readCarrier(s.tc, ext, p.MaxIDLen())
	if err != nil {
		return fmt.Errorf("atls: %w", err)
	}
	if len(serverCID) == 0 {
		return errors.New("atls: server CID is empty")
	}
	secret, salt, _, err := exportKeys(&s.state, s.state.NegotiatedProtocol)
	if err != nil {
		return err
	}
	cb, err := channelBinding(&s.state)
	if err != nil {
		return err
	}
	now := time.Now()
	lifetime := s.client.ContextLifetime
	if lifetime == 0 {
		lifetime = DefaultLifetimes.Context
	}
	ec := &ExportedContext{
		Protocol:         s.state.NegotiatedProtocol,
		Suite:            p,
		MasterSecret:     secret,
		MasterSalt:       salt,
		SenderID:         serverCID, // profile 4.3
		RecipientID:      append([]byte{}, s.client.CID...),
		PeerCertificates: s.state.PeerCertificates,
		ChannelBinding:   cb,
		CreatedAt:        now,
		ExpiresAt:        now.Add(lifetime),
	}
	if c := s.client.TLS; c != nil && len(c.Certificates) > 0 && len(c.Certificates[0].Certificate) > 0 {
		ec.LocalCertificate = c.Certificates[0].Certificate[0]
	}
	s.exported = ec
	// Both sides keep only the exported context (profile 4.2).
	s.conn.Close()
	s.tc, s.conn = nil, nil
	return nil
}

// ConnectionState is the inner TLS session's state: the negotiated
// protocol and suite, and the server's certificates (unverified when the
// client asked for provisional acceptance).
func (s *ClientSession) ConnectionState() tls.ConnectionState { return s.state }

// Protocol is the negotiated application-data mode.
func (s *ClientSession) Protocol() string {
	if s.state.NegotiatedProtocol == "" {
		return ProtoRecords
	}
	return s.state.NegotiatedProtocol
}

// Exported returns the context of a key-export session, nil in records mode.
func (s *ClientSession) Exported() *ExportedContext { return s.exported }

// RoundTrip sends one inner HTTP/1.1 request in records mode (profile 3)
// and implements http.RoundTripper, so an http.Client can use the session.
func (s *ClientSession) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.exported != nil {
		return nil, errors.New("atls: records-mode request on a key-export session")
	}
	body, err := readRequestBody(req)
	if err != nil {
		return nil, err
	}
	inner, err := innerRequestBytes(req, body)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tc == nil {
		return nil, errors.New("atls: session closed")
	}
	if _, err := s.tc.Write(inner); err != nil {
		return nil, err
	}
	answer, err := s.post(req.Context(), s.conn.take())
	if err != nil {
		return nil, err
	}
	s.conn.feed(answer)
	resp, err := http.ReadResponse(bufio.NewReader(s.tc), req)
	if err != nil {
		return nil, fmt.Errorf("atls: reading inner response: %w", err)
	}
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, MaxInnerResponse+1))
	if err != nil {
		return nil, fmt.Errorf("atls: reading inner response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	return resp, nil
}

func readRequestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, MaxFlightSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFlightSize {
		return nil, fmt.Errorf("atls: request body exceeds %d bytes", MaxFlightSize)
	}
	return b, nil
}

// Close ends the session on the server (profile 1.8).
func (s *ClientSession) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.conn != nil {
		s.conn.Close()
		s.tc, s.conn = nil, nil
	}
	s.mu.Unlock()
	return s.deleteOnServer(ctx)
}

// abandon releases a failed session, telling the server when it knows one.
func (s *ClientSession) abandon(ctx context.Context) {
	if s.conn != nil {
		s.conn.Close()
	}
	if s.sid != "" || s.carrier != nil {
		_ = s.deleteOnServer(ctx)
	}
}

func (s *ClientSession) deleteOnServer(ctx context.Context) error {
	if s.carrier != nil {
		return s.carrier.end(ctx, s.sid)
	}
	if s.sid == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.client.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", cookieName+"="+s.sid)
	resp, err := s.client.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
		return statusError(resp, nil)
	}
	return nil
}

// post sends one flight and returns the server's answering flight.
func (s *ClientSession) post(ctx context.Context, flight []byte) ([]byte, error) {
	if s.carrier != nil {
		answer, sid, err := s.carrier.post(ctx, s.sid, flight)
		if err == nil && s.sid == "" {
			s.sid = sid
		}
		return answer, err
	}
	h := http.Header{"Content-Type": flightContentType}
	if s.sid != "" {
		if s.cookieHeader == nil {
			s.cookieHeader = []string{cookieName + "=" + s.sid}
		}
		h["Cookie"] = s.cookieHeader
	}
	resp, body, err := s.client.send(ctx, h, flight)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), ContentTypeATLS) {
		return nil, fmt.Errorf("atls: answer has Content-Type %q", ct)
	}
	if s.sid == "" {
		for _, c := range resp.Cookies() {
			if c.Name == cookieName {
				s.sid = c.Value
			}
		}
		if s.sid == "" {
			return nil, errors.New("atls: server set no session cookie")
		}
	}
	return body, nil
}

// send POSTs body with headers h to the ATLS resource; any answer but 200
// is a StatusError. h becomes the request's header: the caller makes a
// fresh one for each request.
func (c *Client) send(ctx context.Context, h http.Header, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header = h
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := readAllSized(io.LimitReader(resp.Body, MaxInnerResponse+MaxFlightSize), resp.ContentLength)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, statusError(resp, answer)
	}
	return resp, answer, nil
}

func statusError(resp *http.Response, body []byte) *StatusError {
	e := &StatusError{StatusCode: resp.StatusCode, Reason: strings.TrimSpace(string(body))}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}
