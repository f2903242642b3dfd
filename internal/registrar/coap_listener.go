package registrar

import (
	"context"
	"net"

	"github.com/landfall-io/landfall/internal/registrar/replica"
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
//
// Behind a UDP balancer without stickiness each message is served by its
// home replica and forwarded there once (atls.CoAPReplica): a session's
// owner, else the live replica of the registry that hashing the client's
// endpoint picks. Datagrams from the trusted proxies may carry the
// client's endpoint in a PROXY v1 header (nginx's proxy_protocol).
type CoAPListener struct {
	coap    *atls.CoAPServer
	replica *atls.CoAPReplica
	conn    *net.UDPConn
}

// ListenCoAP opens the UDP address addr for the CoAP binding; Serve
// answers on it.
func (rg *Registrar) ListenCoAP(addr string, cfg atls.CoAPConfig) (*CoAPListener, error) {
	c, err := atls.NewCoAPServer(rg.atls, cfg)
	if err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	r := atls.NewCoAPReplica(c, atls.CoAPReplicaConfig{Replicas: rg.liveReplicaIDs(), Balancers: rg.cfg.TrustedProxies})
	return &CoAPListener{coap: c, replica: r, conn: conn}, nil
}

// liveReplicaIDs lists the live replicas for CoAP routing, when the
// registry can list them.
func (rg *Registrar) liveReplicaIDs() func(context.Context) ([]string, error) {
	reg, ok := rg.replicas.(interface {
		Live(context.Context) ([]replica.Replica, error)
	})
	if !ok {
		return nil
	}
	return func(ctx context.Context) ([]string, error) {
		rows, err := reg.Live(ctx)
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		return ids, err
	}
}

// Addr is the UDP address the listener is bound to.
func (l *CoAPListener) Addr() net.Addr { return l.conn.LocalAddr() }

// Serve answers CoAP until Close.
func (l *CoAPListener) Serve() error { return l.replica.ServeDatagrams(l.conn) }

// Close stops Serve and releases the socket. Sessions stay in the
// replica's table until their lifetimes end or Registrar.Close.
func (l *CoAPListener) Close() error { return l.conn.Close() }

// Stats reports the binding's own counters.
func (l *CoAPListener) Stats() atls.CoAPStats { return l.coap.Stats() }

// ReplicaStats counts the datagrams received, forwarded to their home and
// served for other replicas.
func (l *CoAPListener) ReplicaStats() atls.CoAPReplicaStats { return l.replica.Stats() }
