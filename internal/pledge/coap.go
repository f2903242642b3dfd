package pledge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/landfall-io/landfall/pkg/atls"
)

// ModeCoAPOSCORE reaches the registrar over CoAP on UDP: the ATLS
// handshake in Confirmable POSTs to /.well-known/atls (profile 7.1-7.7)
// with key export, then the constrained flow in OSCORE natively over CoAP
// (profile 7.8) on the same socket. It implies Config.Constrained.
const ModeCoAPOSCORE = "coap-oscore"

// coapAddr is the UDP endpoint of a coap-oscore registrar URL:
// coap://host:port (port 5683 when absent) or host:port.
func coapAddr(registrarURL string) (string, error) {
	raw := registrarURL
	if !strings.Contains(raw, "://") {
		raw = "coap://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("pledge: registrar URL %q: %w", registrarURL, err)
	}
	if u.Scheme != "coap" || u.Host == "" {
		return "", fmt.Errorf("pledge: %s mode needs a coap://host:port registrar URL, not %q", ModeCoAPOSCORE, registrarURL)
	}
	if u.Port() == "" {
		return u.Host + ":5683", nil
	}
	return u.Host, nil
}

// connectCoAP runs the ATLS handshake over CoAP with the IDevID, the
// registrar's certificate accepted provisionally (RFC 8995 5.1), and keeps
// the session: its Transport sends OSCORE over the session's socket. A
// context the registrar lost is not renewed in this mode: the request
// fails with 4.01 and the onboarding is retried from the start.
func connectCoAP(ctx context.Context, cfg *Config) (*link, error) {
	addr, err := coapAddr(cfg.RegistrarURL)
	if err != nil {
		return nil, err
	}
	c := &atls.CoAPClient{
		Addr:        addr,
		TLS:         &tls.Config{Certificates: []tls.Certificate{cfg.IDevID}},
		Protocols:   []string{atls.ProtoOSCORE},
		Provisional: true,
	}
	sess, err := c.Handshake(ctx)
	if err != nil {
		return nil, err
	}
	ec := sess.Exported()
	if ec == nil {
		_ = sess.Close(ctx)
		return nil, errors.New("pledge: the CoAP handshake exported no OSCORE context")
	}
	tr, err := sess.Transport()
	if err != nil {
		_ = sess.Close(ctx)
		return nil, err
	}
	return &link{
		client:         &http.Client{Transport: tr, Timeout: cfg.requestTimeout()},
		registrarChain: sess.ConnectionState().PeerCertificates,
		channelBinding: ec.ChannelBinding,
		close:          func(ctx context.Context) { _ = sess.Close(ctx) },
	}, nil
}

// coapStatus is the HTTP status standing for a CoAP error answer of the
// ATLS binding or an unprotected OSCORE refusal (4.03 is 403, 5.03 is
// 503), so that failures are reported and retried as in the HTTP modes;
// 0 when err is no CoAP answer.
func coapStatus(err error) int {
	var ce *atls.CoAPStatusError
	if !errors.As(err, &ce) {
		return 0
	}
	return int(ce.Code>>5)*100 + int(ce.Code&0x1f)
}
