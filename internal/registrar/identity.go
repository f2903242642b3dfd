package registrar

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// Pledge is the identity a request proved: the IDevID chain from the inner
// ATLS session or the direct TLS session, the manufacturer it chains to and
// the serial number it names, plus what BRSKI needs of that session.
type Pledge struct {
	Chain        []*x509.Certificate
	IDevID       *x509.Certificate
	Manufacturer store.Anchor
	Serial       string
	// RegistrarCert is the certificate this registrar presented in the
	// session the request came through (RFC 8995 5.2: the pledge's
	// proximity-registrar-cert must equal it).
	RegistrarCert []byte
	// ChannelBinding is the session's RFC 9266 tls-exporter value.
	ChannelBinding []byte
	// Protocol is the ATLS mode, or "direct".
	Protocol string
}

// ProtocolDirect names requests over direct mutual TLS (RFC 8995 as is).
const ProtocolDirect = "direct"

// errUnknownManufacturer: the IDevID chains to no trusted manufacturer.
var errUnknownManufacturer = errors.New("IDevID does not chain to a trusted manufacturer")

// sessionOf returns what the transport proved about the caller: the ATLS
// inner session if there is one, else the direct TLS session.
func (rg *Registrar) sessionOf(r *http.Request) (chain []*x509.Certificate, local, binding []byte, proto string) {
	if p, ok := atls.PeerFromContext(r.Context()); ok {
		return p.ConnectionState.PeerCertificates, p.LocalCertificate, p.ChannelBinding, p.Protocol
	}
	if r.TLS != nil {
		return r.TLS.PeerCertificates, rg.tlsCertDER, enroll.TLSExporter(r.TLS), ProtocolDirect
	}
	return nil, nil, nil, ""
}

// identify matches the caller's IDevID against the trusted manufacturers
// (RFC 8995 5.5: the registrar authenticates the pledge by its IDevID).
func (rg *Registrar) identify(r *http.Request) (*Pledge, error) {
	chain, local, binding, proto := rg.sessionOf(r)
	p, err := rg.identifyChain(r.Context(), chain)
	if err != nil {
		return nil, err
	}
	p.RegistrarCert, p.ChannelBinding, p.Protocol = local, binding, proto
	return p, nil
}

// identifyChain is who a presented chain (IDevID first, then whatever
// intermediates the pledge sent) proves the pledge to be: the manufacturer
// whose anchor verifies it and the serial number its serial field holds.
// Every step (voucher request, telemetry, enrollment, certificate names)
// identifies the pledge here, so that they all agree on the serial.
func (rg *Registrar) identifyChain(ctx context.Context, chain []*x509.Certificate) (*Pledge, error) {
	if len(chain) == 0 {
		return nil, &httpError{http.StatusUnauthorized, "no client certificate: the pledge must present its IDevID"}
	}
	p := &Pledge{Chain: chain, IDevID: chain[0]}
	anchor, err := rg.manufacturerOf(ctx, chain)
	if err != nil {
		return nil, err
	}
	p.Manufacturer = *anchor
	if p.Serial, err = serialSource(anchor.SerialField)(chain[0]); err != nil {
		return nil, &httpError{http.StatusBadRequest, err.Error()}
	}
	return p, nil
}

// manufacturerOf finds the manufacturer whose IDevID anchor verifies chain.
func (rg *Registrar) manufacturerOf(ctx context.Context, chain []*x509.Certificate) (*store.Anchor, error) {
	now := rg.now()
	key := chainKey(chain)
	if a := rg.anchors.lookup(key, now); a != nil {
		return a, nil
	}
	anchors, err := rg.anchors.list(ctx, rg.state, now)
	if err != nil {
		return nil, unavailable(err)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for i := range anchors {
		roots := x509.NewCertPool()
		roots.AddCert(anchors[i].IDevID)
		_, err := chain[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now,
			// IDevIDs carry no particular EKU (IEEE 802.1AR).
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			rg.anchors.remember(key, &anchors[i], now)
			return &anchors[i], nil
		}
	}
	return nil, &httpError{http.StatusForbidden, errUnknownManufacturer.Error()}
}

func (rg *Registrar) now() time.Time { return rg.cfg.Now() }
