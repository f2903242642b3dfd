package enroll

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
)

// Peer is what the transport proved about the client: the verified
// certificate chain (leaf first) and the RFC 9266 tls-exporter channel
// binding of the session that carried the request.
//
// For direct mutual TLS the chain is r.TLS.PeerCertificates. For ATLS the
// inner session supplies it (the ATLS binding either sets r.TLS on the inner
// request or calls WithPeer). For OSCORE there is no r.TLS and the binding
// must call WithPeer with the chain and exporter of the ATLS handshake that
// keyed the OSCORE context.
type Peer struct {
	// Chain is the verified client chain, leaf first. Empty means
	// unauthenticated.
	Chain []*x509.Certificate
	// ChannelBinding is the 32-byte tls-exporter value (RFC 9266 section 2:
	// label "EXPORTER-Channel-Binding", empty context). Nil when unknown.
	ChannelBinding []byte
}

// Leaf returns the client's end-entity certificate, or nil.
func (p Peer) Leaf() *x509.Certificate {
	if len(p.Chain) == 0 {
		return nil
	}
	return p.Chain[0]
}

type peerKey struct{}

// WithPeer returns a context that carries p; handlers prefer it over r.TLS.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFromContext returns the Peer set by WithPeer.
func PeerFromContext(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}

// tlsExporterLabel and tlsExporterLength are from RFC 9266 section 2.
const (
	tlsExporterLabel  = "EXPORTER-Channel-Binding"
	tlsExporterLength = 32
)

// TLSExporter returns the RFC 9266 tls-exporter channel binding of cs, or
// nil when the connection is not TLS 1.3 (RFC 9266 section 3 forbids it on
// TLS 1.2 without extended master secret, which Go cannot report).
func TLSExporter(cs *tls.ConnectionState) (b []byte) {
	if cs == nil || cs.Version != tls.VersionTLS13 {
		return nil
	}
	// A ConnectionState built by hand (not from a tls.Conn) has no exporter
	// and ExportKeyingMaterial panics on it; treat that as "no binding".
	defer func() {
		if recover() != nil {
			b = nil
		}
	}()
	b, err := cs.ExportKeyingMaterial(tlsExporterLabel, nil, tlsExporterLength)
	if err != nil {
		return nil
	}
	return b
}

// PeerFromRequest returns the Peer of r: the context value set by WithPeer
// if present, otherwise the verified chain and exporter of r.TLS.
//
// Only verified chains count: with r.TLS it takes VerifiedChains[0] when the
// server verified the client (tls.VerifyClientCertIfGiven or stricter), and
// falls back to PeerCertificates only when the TLS configuration verified
// them itself (VerifyPeerCertificate; the ATLS inner session does this and
// leaves VerifiedChains empty). A server configured with
// tls.RequestClientCert and no verification must not use this package.
func PeerFromRequest(r *http.Request) Peer {
	if p, ok := PeerFromContext(r.Context()); ok {
		return p
	}
	if r.TLS == nil {
		return Peer{}
	}
	p := Peer{ChannelBinding: TLSExporter(r.TLS)}
	switch {
	case len(r.TLS.VerifiedChains) > 0:
		p.Chain = r.TLS.VerifiedChains[0]
	default:
		p.Chain = r.TLS.PeerCertificates
	}
	return p
}
