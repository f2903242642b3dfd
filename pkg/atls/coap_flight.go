package atls

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// This file hands a reassembled CoAP flight to the engine of the HTTP
// binding, so that a CoAP session is a session of the same Server: the
// same session table and ids, the same checks in the same order (framing,
// rate limit, capacity, then TLS), the same retransmission cache (1.7),
// key export and forwarding. The flight becomes the POST (or DELETE) the
// HTTP binding would have received, and the binding's answer is mapped to
// the codes of profile 7.5.

// coapTLSKey carries, in the context of a flight that arrived over CoAP,
// the TLS configuration a new session runs with (profile 7.7).
type coapTLSKey struct{}

// sessionTLS is the TLS configuration of a new session: the HTTP
// binding's, or the CoAP binding's, which never offers atls-cose (7.7).
func (s *Server) sessionTLS(r *http.Request) *tls.Config {
	if c, ok := r.Context().Value(coapTLSKey{}).(*tls.Config); ok {
		return c
	}
	return s.tls
}

// coapProtocols is the ALPN offer over CoAP: the server's, without
// atls-cose (profile 7.7).
func coapProtocols(protos []string) []string {
	return slices.DeleteFunc(slices.Clone(protos), func(p string) bool { return p == ProtoCOSE })
}

// engineRequest builds the HTTP binding's request for a CoAP flight: a
// POST (or DELETE) with the atls cookie when the flight names a session.
func (c *CoAPServer) engineRequest(ctx context.Context, method string, source netip.AddrPort, sid string, body []byte) *http.Request {
	ctx = context.WithValue(ctx, coapTLSKey{}, c.tls)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.localAddr())
	r, _ := http.NewRequestWithContext(ctx, method, c.srv.cfg.Path, bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.RemoteAddr = source.String()
	if method == http.MethodPost {
		r.Header.Set("Content-Type", ContentTypeATLS)
	}
	if sid != "" {
		r.Header.Set("Cookie", cookieName+"="+sid)
	}
	return r
}

func (c *CoAPServer) localAddr() net.Addr {
	if a := c.boundAddr.Load(); a != nil {
		return a
	}
	return &net.UDPAddr{}
}

// runFlight feeds a complete flight to the engine. sid is empty for the
// flight that starts a session. The answer carries the Location-Path of
// the new session (7.3) or the error of 7.5.
func (c *CoAPServer) runFlight(ctx context.Context, source netip.AddrPort, sid string, flight []byte) *coapAnswer {
	w := newResponseBuffer()
	c.srv.post(w, c.engineRequest(ctx, http.MethodPost, source, sid, flight))
	status := w.statusCode()
	if status != http.StatusOK {
		return c.engineError(status, w)
	}
	a := &coapAnswer{code: codes.Changed, payload: bytes.Clone(w.body.Bytes()), contentFormat: true}
	if sid == "" {
		newSID := ""
		for _, sc := range w.header.Values("Set-Cookie") {
			if ck, err := http.ParseSetCookie(sc); err == nil && ck.Name == cookieName {
				newSID = ck.Value
			}
		}
		if newSID == "" {
			return coapError(codes.InternalServerError, "session was not created")
		}
		a.code = codes.Created
		a.location = append(c.sessionPath(), newSID)
	}
	return a
}

// deleteSession ends the session sid names (profile 7.3, 1.8): 2.02.
func (c *CoAPServer) deleteSession(ctx context.Context, source netip.AddrPort, sid string) *coapAnswer {
	w := newResponseBuffer()
	c.srv.deleteSession(w, c.engineRequest(ctx, http.MethodDelete, source, sid, nil))
	status := w.statusCode()
	if status != http.StatusNoContent {
		return c.engineError(status, w)
	}
	return &coapAnswer{code: codes.Deleted}
}

// engineError maps an HTTP-level error of profile 1.5 to its CoAP code of
// 7.5, keeping the reason as the diagnostic payload and Retry-After as
// Max-Age.
func (c *CoAPServer) engineError(status int, w *responseBuffer) *coapAnswer {
	code, ok := httpToCoAP[status]
	if !ok {
		code = codes.InternalServerError
	}
	a := coapError(code, strings.TrimSpace(w.body.String()))
	if secs, err := strconv.ParseUint(w.header.Get("Retry-After"), 10, 32); err == nil {
		a.maxAge = u32(uint32(secs))
	}
	if code == codes.RequestEntityTooLarge {
		a.size1 = u32(MaxFlightSize)
	}
	return a
}

// httpToCoAP maps the HTTP binding's statuses to CoAP codes (7.5).
var httpToCoAP = map[int]codes.Code{
	http.StatusBadRequest:            codes.BadRequest,
	http.StatusUnauthorized:          codes.Unauthorized,
	http.StatusForbidden:             codes.Forbidden,
	http.StatusNotFound:              codes.NotFound,
	http.StatusMethodNotAllowed:      codes.MethodNotAllowed,
	http.StatusRequestEntityTooLarge: codes.RequestEntityTooLarge,
	http.StatusUnsupportedMediaType:  codes.UnsupportedMediaType,
	http.StatusTooManyRequests:       codes.TooManyRequests,
	http.StatusInternalServerError:   codes.InternalServerError,
	http.StatusBadGateway:            codes.BadGateway,
	http.StatusServiceUnavailable:    codes.ServiceUnavailable,
	http.StatusGatewayTimeout:        codes.GatewayTimeout,
}
