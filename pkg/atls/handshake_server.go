package atls

import (
	"crypto/tls"
	"errors"
	"net/http"
	"time"
)

// This file implements the server's TLS engine of one session (profile 2):
// the TLS 1.3 handshake, mode selection by ALPN (2.3), the peer check, and
// the completion of a key export (4.1, 4.2, 4.6).

// runSession is the server engine of one session: the TLS 1.3 handshake,
// then the application-data mode the ALPN selected (profile 2.3). It runs in
// the session's goroutine; the driver sees its progress through the flight
// connection and the session's flags.
func (s *Server) runSession(sess *session) {
	tc := sess.tls
	if err := tc.Handshake(); err != nil {
		// crypto/tls has written its alert; the driver returns it (1.6).
		return
	}
	cs := tc.ConnectionState()
	sess.proto = cs.NegotiatedProtocol
	sess.handshakeDone.Store(true)
	if err := s.verifyPeer(sess, cs); err != nil {
		sess.failure = err
		return
	}
	switch {
	case isKeyExport(cs.NegotiatedProtocol):
		s.completeKeyExport(sess, tc, &cs)
	case s.records:
		s.serveRecords(sess, tc, &cs)
	default:
		// A client without ALPN gets http/1.1 (2.3), which this server
		// does not offer. Go cannot send an alert after the handshake,
		// so the error is reported at the HTTP level (4.1).
		sess.failure = errorf(http.StatusBadRequest, "client offered no ALPN and %s is not enabled", ProtoRecords)
	}
}

// verifyPeer runs ServerConfig.VerifyPeer once the handshake is complete,
// before anything is stored or established, and turns its refusal into the
// HTTP answer: the error's StatusCode() (default 403), its RetryAfter(),
// and its text as the reason. A 5xx is logged and given a generic reason,
// so that an internal cause never reaches the client.
func (s *Server) verifyPeer(sess *session, cs tls.ConnectionState) error {
	if s.cfg.VerifyPeer == nil {
		return nil
	}
	err := s.cfg.VerifyPeer(sess.outer.Context(), cs)
	if err == nil {
		return nil
	}
	he := &httpError{status: http.StatusForbidden, reason: err.Error()}
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) && sc.StatusCode() >= 400 && sc.StatusCode() <= 599 {
		he.status = sc.StatusCode()
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		he.retryAfter = ra.RetryAfter()
	}
	if he.status >= 500 {
		s.cfg.Logger.Error("atls: verifying the peer", "err", err)
		he.reason = "cannot verify the client certificate now"
		if he.retryAfter == 0 {
			he.retryAfter = s.cfg.RetryAfter
		}
	}
	return he
}

// completeKeyExport runs profile 4.1-4.4 on the server: read the client's
// carrier, allocate the server CID, export the keys, hand the context to the
// sink, and answer with the server's carrier.
func (s *Server) completeKeyExport(sess *session, tc *tls.Conn, cs *tls.ConnectionState) {
	p, ok := SuiteTable[cs.CipherSuite]
	if !ok {
		sess.failure = errorf(http.StatusBadRequest, "cipher suite %#04x has no key-export mapping", cs.CipherSuite)
		return
	}
	ext := carrierType(cs.NegotiatedProtocol)
	clientCID, err := readCarrier(tc, ext, p.MaxIDLen())
	if err != nil {
		sess.failure = errorf(http.StatusBadRequest, "%v", err)
		return
	}
	ctx := sess.outer.Context()
	secret, salt, _, err := exportKeys(cs, cs.NegotiatedProtocol)
	var cb []byte
	if err == nil {
		cb, err = channelBinding(cs)
	}
	if err != nil {
		s.cfg.Logger.Error("atls: exporting keys", "err", err)
		sess.failure = &httpError{status: http.StatusServiceUnavailable, reason: "cannot store the security context", retryAfter: s.cfg.RetryAfter}
		return
	}
	now := s.cfg.Now()
	ec := &ExportedContext{
		Protocol:         cs.NegotiatedProtocol,
		Suite:            p,
		MasterSecret:     secret,
		MasterSalt:       salt,
		SenderID:         clientCID, // profile 4.3; RecipientID is drawn as it is stored
		PeerCertificates: cs.PeerCertificates,
		LocalCertificate: tc.NetConn().(*flightConn).localCert,
		ChannelBinding:   cb,
		CreatedAt:        now,
		ExpiresAt:        now.Add(s.cfg.Lifetimes.Context),
	}
	if err := s.storeExported(ctx, ec, p.MaxIDLen()); err != nil {
		reason := "cannot store the security context"
		if errors.Is(err, ErrNoCID) {
			reason = "cannot allocate a connection ID"
		}
		s.cfg.Logger.Error("atls: storing exported context", "err", err)
		sess.failure = &httpError{status: http.StatusServiceUnavailable, reason: reason, retryAfter: s.cfg.RetryAfter}
		return
	}
	serverCID := ec.RecipientID
	sess.exportedID = serverCID
	s.misses.forget(serverCID)
	if _, err := tc.Write(appendCarrier(nil, ext, serverCID)); err != nil {
		sess.failure = errorf(http.StatusBadRequest, "writing carrier: %v", err)
	}
}

// recordLocalCertificate selects the server certificate the way crypto/tls
// would and remembers it on the flight connection, so that the exported
// context can name the certificate this session presented (profile 4.6).
func recordLocalCertificate(base *tls.Config) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		var cert *tls.Certificate
		if base.GetCertificate != nil {
			c, err := base.GetCertificate(hello)
			if err != nil {
				return nil, err
			}
			cert = c
		}
		if cert == nil {
			cert = &base.Certificates[0]
			for i := range base.Certificates {
				if hello.SupportsCertificate(&base.Certificates[i]) == nil {
					cert = &base.Certificates[i]
					break
				}
			}
		}
		if fc, ok := hello.Conn.(*flightConn); ok && len(cert.Certificate) > 0 {
			fc.localCert = cert.Certificate[0]
		}
		return cert, nil
	}
}
