package registrar

import (
	"net"

	coapnet "github.com/plgd-dev/go-coap/v3/net"

	"github.com/landfall-io/landfall/pkg/atls"
)

// CoAPListener is the replica's optional UDP listener for the CoAP binding
// of ATLS (profile 7). It serves the replica's own ATLS server, so a CoAP
// session lives in the same session table as those of the public HTTP
// listener, passes the same pledge check (verifyPeer) and exports into the
// same context store, from which any replica serves its protected
// requests: OSCORE natively over CoAP (profile 7.8) on this listener, or
// OSCORE over HTTP on the public one, both reaching the constrained
// resources. `registrar serve --coap-listen` opens it.
type CoAPListener struct {
	coap *atls.CoAPServer
	conn *coapnet.UDPConn
}

// ListenCoAP opens the UDP address addr for the CoAP binding; Serve
// answers on it.
func (rg *Registrar) ListenCoAP(addr string, cfg atls.CoAPConfig) (*CoAPListener, error) {
	c, err := atls.NewCoAPServer(rg.atls, cfg)
	if err != nil {
		return nil, err
	}
	conn, err := coapnet.NewListenUDP("udp", addr)
	if err != nil {
		return nil, err
	}
	return &CoAPListener{coap: c, conn: conn}, nil
}

// Addr is the UDP address the listener is bound to.
func (l *CoAPListener) Addr() net.Addr { return l.conn.LocalAddr() }

// Serve answers CoAP until Close.
func (l *CoAPListener) Serve() error { return l.coap.Serve(l.conn) }

// Close stops Serve and releases the socket. Sessions stay in the
// replica's table until their lifetimes end or Registrar.Close.
func (l *CoAPListener) Close() error {
	l.coap.Stop()
	return l.conn.Close()
}

// Stats reports the binding's own counters.
func (l *CoAPListener) Stats() atls.CoAPStats { return l.coap.Stats() }
