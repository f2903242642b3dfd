package pledge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/landfall-io/landfall/pkg/atls"
)

// Modes a pledge can reach the registrar in.
const (
	ModeDirect      = "direct"       // mutual TLS straight to the registrar (RFC 8995 as is)
	ModeATLSRecords = "atls-records" // ATLS, inner HTTP/1.1 in TLS records
	ModeATLSOSCORE  = "atls-oscore"  // ATLS, key export into OSCORE
	ModeATLSCOSE    = "atls-cose"    // ATLS, key export into COSE_Encrypt0
)

// Modes lists every mode.
var Modes = append(append([]string{}, HTTPModes...), ModeCoAPOSCORE)

// HTTPModes lists the modes that reach the registrar over HTTPS (its
// public listener, or a TLS-terminating balancer in front of it); the
// CoAP mode needs the replicas' CoAP listeners (and a UDP balancer).
var HTTPModes = []string{ModeDirect, ModeATLSRecords, ModeATLSOSCORE, ModeATLSCOSE}

// link is an authenticated channel to the registrar: an http.Client whose
// requests carry the IDevID, the registrar certificate seen (unverified
// until the voucher pins the domain CA), and the channel binding.
type link struct {
	client         *http.Client
	registrarChain []*x509.Certificate
	channelBinding []byte
	close          func(context.Context)
	// renewing is the transport of the key-export modes, which runs a new
	// handshake when the registrar lost the context; nil otherwise.
	renewing *renewingTransport
}

// binding is the channel binding of the link's current session, and how
// many times its context was renewed.
func (l *link) binding() ([]byte, int) {
	if l.renewing != nil {
		return l.renewing.channelBinding()
	}
	return l.channelBinding, 0
}

// connect opens the channel of cfg.Mode, accepting the registrar's
// certificate provisionally (RFC 8995 5.1).
func connect(ctx context.Context, cfg *Config) (*link, error) {
	switch cfg.Mode {
	case ModeDirect:
		return connectDirect(ctx, cfg)
	case ModeATLSRecords, ModeATLSOSCORE, ModeATLSCOSE:
		return connectATLS(ctx, cfg)
	case ModeCoAPOSCORE:
		return connectCoAP(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown mode %q (want one of %s)", cfg.Mode, strings.Join(Modes, ", "))
}

func connectATLS(ctx context.Context, cfg *Config) (*link, error) {
	proto := map[string]string{ModeATLSRecords: atls.ProtoRecords, ModeATLSOSCORE: atls.ProtoOSCORE, ModeATLSCOSE: atls.ProtoCOSE}[cfg.Mode]
	c := &atls.Client{
		URL:         strings.TrimSuffix(cfg.RegistrarURL, "/") + cfg.atlsPath(),
		HTTP:        cfg.HTTP,
		TLS:         &tls.Config{Certificates: []tls.Certificate{cfg.IDevID}},
		Protocols:   []string{proto},
		Provisional: true,
	}
	sess, err := c.Handshake(ctx)
	if err != nil {
		return nil, err
	}
	l := &link{
		registrarChain: sess.ConnectionState().PeerCertificates,
		close:          func(ctx context.Context) { _ = sess.Close(ctx) },
	}
	if ec := sess.Exported(); ec != nil {
		if l.renewing, err = newRenewingTransport(c, sess); err != nil {
			return nil, err
		}
		l.client = &http.Client{Transport: l.renewing, Timeout: cfg.requestTimeout()}
		l.close = l.renewing.close
		l.channelBinding = ec.ChannelBinding
	} else {
		tr, err := sess.Transport()
		if err != nil {
			return nil, err
		}
		l.client = &http.Client{Transport: tr, Timeout: cfg.requestTimeout()}
		cs := sess.ConnectionState()
		if l.channelBinding, err = cs.ExportKeyingMaterial(atls.ChannelBindingLabel, nil, 32); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// connectDirect dials the registrar with mutual TLS once, to learn its
// certificate and the channel binding, and keeps that connection for every
// request (the binding is per connection).
func connectDirect(ctx context.Context, cfg *Config) (*link, error) {
	var (
		mu    sync.Mutex
		state *tls.ConnectionState
	)
	tlsConf := &tls.Config{
		Certificates:       []tls.Certificate{cfg.IDevID},
		InsecureSkipVerify: true, // provisional acceptance: verified against the voucher later
		MinVersion:         tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			mu.Lock()
			defer mu.Unlock()
			if state != nil && !state.PeerCertificates[0].Equal(cs.PeerCertificates[0]) {
				return errors.New("registrar certificate changed between connections")
			}
			return nil
		},
	}
	tr := &http.Transport{TLSClientConfig: tlsConf, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, ForceAttemptHTTP2: false}
	l := &link{
		client: &http.Client{Transport: tr, Timeout: cfg.requestTimeout()},
		close:  func(context.Context) { tr.CloseIdleConnections() },
	}
	// A first request establishes the connection the binding belongs to.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.RegistrarURL, "/")+"/.well-known/est/cacerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.TLS == nil {
		return nil, errors.New("direct mode needs an https registrar URL")
	}
	mu.Lock()
	state = resp.TLS
	mu.Unlock()
	l.registrarChain = resp.TLS.PeerCertificates
	if l.channelBinding, err = resp.TLS.ExportKeyingMaterial(atls.ChannelBindingLabel, nil, 32); err != nil {
		return nil, err
	}
	return l, nil
}

// Handshake only opens the channel of cfg.Mode and closes it again: the
// ATLS handshake (with the key export in those modes), or the direct TLS
// handshake and one request. Load runs use it to measure handshakes alone.
func Handshake(ctx context.Context, cfg Config) error {
	l, err := connect(ctx, &cfg)
	if err != nil {
		return err
	}
	l.close(ctx)
	return nil
}
