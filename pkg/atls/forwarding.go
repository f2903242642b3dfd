package atls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"time"
)

// This file implements forwarding between replicas (DESIGN decision 3):
// a flight for a session another replica owns goes to that owner, once.

// ForwardedHeader marks a request one replica forwarded to another; a
// replica that receives one for a session it does not own answers 404
// instead of forwarding again (DESIGN decision 3: forward once).
const ForwardedHeader = "Landfall-Atls-Forwarded-By"

// ErrUnknownOwner is what a Resolve function returns for a replica that is
// gone: its sessions are lost and the client gets 404. Any other
// resolution error (the registry cannot be read) is a 503, since the
// session may well be alive.
var ErrUnknownOwner = errors.New("atls: unknown session owner")

// Forwarder takes a POST or DELETE for a session that another replica owns,
// named by the session id, and writes that replica's answer to w.
type Forwarder interface {
	Forward(w http.ResponseWriter, r *http.Request, owner string)
}

// HTTPForwarder forwards over HTTP to the owner's internal listener, which
// serves the same Server. Authentication of that hop (mutual TLS, say) is
// the Client's business.
type HTTPForwarder struct {
	// Self names this replica in ForwardedHeader.
	Self string
	// Client sends the forwarded request; it should have a timeout.
	Client *http.Client
	// Resolve returns the base URL of the owner's internal listener.
	Resolve func(ctx context.Context, owner string) (*url.URL, error)
}

// Forward implements Forwarder. An owner that cannot be resolved or reached
// means its sessions are gone: the client gets 404 and starts over.
func (f *HTTPForwarder) Forward(w http.ResponseWriter, r *http.Request, owner string) {
	base, err := f.Resolve(r.Context(), owner)
	switch {
	case errors.Is(err, ErrUnknownOwner):
		writeError(w, errorf(http.StatusNotFound, "unknown session (owner replica unavailable)"))
		return
	case err != nil:
		writeError(w, &httpError{status: http.StatusServiceUnavailable, reason: "cannot locate the session's replica; retry", retryAfter: time.Second})
		return
	}
	target := base.JoinPath(r.URL.Path)
	target.RawQuery = r.URL.RawQuery
	body := http.MaxBytesReader(w, r.Body, MaxFlightSize)
	out, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), body)
	if err != nil {
		writeError(w, err)
		return
	}
	out.ContentLength = r.ContentLength
	for _, k := range []string{"Content-Type", "Cookie", "Oscore", "X-Forwarded-For"} {
		if v := r.Header.Values(k); len(v) > 0 {
			out.Header[k] = v
		}
	}
	out.Header.Set(ForwardedHeader, f.Self)
	resp, err := f.Client.Do(out)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, errorf(http.StatusRequestEntityTooLarge, "body exceeds %d bytes", MaxFlightSize))
			return
		}
		writeError(w, errorf(http.StatusNotFound, "unknown session (owner replica unreachable)"))
		return
	}
	defer resp.Body.Close()
	for _, k := range []string{"Content-Type", "Set-Cookie", "Retry-After", "Cache-Control", "Oscore", "X-Content-Type-Options"} {
		if v := resp.Header.Values(k); len(v) > 0 {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, io.LimitReader(resp.Body, MaxInnerResponse+MaxFlightSize))
}

// CoAPSourceHeader carries, on a CoAP message one replica forwards to
// another (coap_forward.go), the client's UDP endpoint, which the state of
// the CoAP binding is keyed by.
const CoAPSourceHeader = "Landfall-Coap-Source"

// CoAPForwarder takes one CoAP message, as it travels in a datagram, for
// the replica owner whose state serves it, and returns the encoded answer
// that replica wants sent (none: nothing is sent back).
type CoAPForwarder interface {
	ForwardCoAP(ctx context.Context, owner, path string, source netip.AddrPort, msg []byte) (answer []byte, err error)
}

// ForwardCoAP implements CoAPForwarder: a POST of the message to the
// owner's internal listener, at the ATLS path (path), marked by
// CoAPSourceHeader. An error means the owner could not be reached or
// resolved (ErrUnknownOwner: it is gone).
func (f *HTTPForwarder) ForwardCoAP(ctx context.Context, owner, path string, source netip.AddrPort, msg []byte) ([]byte, error) {
	base, err := f.Resolve(ctx, owner)
	if err != nil {
		return nil, err
	}
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath(path).String(), bytes.NewReader(msg))
	if err != nil {
		return nil, err
	}
	out.Header.Set("Content-Type", "application/octet-stream")
	out.Header.Set(CoAPSourceHeader, source.String())
	out.Header.Set(ForwardedHeader, f.Self)
	resp, err := f.Client.Do(out)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return io.ReadAll(io.LimitReader(resp.Body, maxCoAPDatagram))
	case http.StatusNoContent:
		return nil, nil
	default:
		return nil, fmt.Errorf("atls: replica %s answered a forwarded CoAP message %d", owner, resp.StatusCode)
	}
}
