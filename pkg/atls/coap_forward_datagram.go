package atls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// This file serves the CoAP binding on a UDP socket behind a UDP balancer.
// A balancer relays each client datagram from a socket of its own, a new
// one for each of its UDP sessions; nginx's stream module without
// stickiness (proxy_requests 1) opens one per datagram, so the source
// port a replica sees changes with every message, and all the binding's
// state keyed by the client's endpoint (blocks, exchanges, Echo) would
// miss. With proxy_protocol on, nginx prepends to each datagram a PROXY
// protocol version 1 header naming the client's endpoint; datagrams from
// a configured balancer must carry one, and the binding keys its state by
// the endpoint it names. The answer goes back to the balancer's socket,
// which relays it to the client.

// maxProxyHeader is the longest PROXY protocol v1 line (its 107 bytes).
const maxProxyHeader = 107

// errProxyHeader is wrapped by every malformed PROXY header.
var errProxyHeader = errors.New("malformed PROXY protocol header")

// parseProxyHeader reads a PROXY protocol v1 line ("PROXY TCP4 src dst
// sport dport\r\n", which nginx writes for UDP as well) at the start of a
// datagram, and returns the client's endpoint and the datagram after it.
func parseProxyHeader(d []byte) (netip.AddrPort, []byte, error) {
	end := bytes.Index(d[:min(len(d), maxProxyHeader)], []byte("\r\n"))
	if !bytes.HasPrefix(d, []byte("PROXY ")) || end < 0 {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: no PROXY line", errProxyHeader)
	}
	f := strings.Split(string(d[:end]), " ")
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6" && f[1] != "UDP4" && f[1] != "UDP6") {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: %q", errProxyHeader, d[:end])
	}
	addr, err := netip.ParseAddr(f[2])
	if err != nil {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: source address: %v", errProxyHeader, err)
	}
	port, err := strconv.ParseUint(f[4], 10, 16)
	if err != nil {
		return netip.AddrPort{}, nil, fmt.Errorf("%w: source port: %v", errProxyHeader, err)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), d[end+2:], nil
}

// maxDatagramsInFlight bounds the datagrams answered at once.
const maxDatagramsInFlight = 256

// ServeDatagrams answers CoAP on conn until conn is closed, reading the
// datagrams itself instead of through go-coap's server, so that those
// from CoAPReplicaConfig.Balancers can carry the client's endpoint in a PROXY
// header. A datagram from a balancer with a malformed header is dropped;
// one without a header is the balancer's own (or a local client's).
func (r *CoAPReplica) ServeDatagrams(conn *net.UDPConn) error {
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		r.c.boundAddr.Store(a)
	}
	sem := make(chan struct{}, maxDatagramsInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		buf := make([]byte, maxCoAPDatagram+maxProxyHeader)
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		r.received.Add(1)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if out := r.answerFrom(from, buf[:n]); out != nil {
				conn.WriteToUDPAddrPort(out, from)
			}
		}()
	}
}

// answerFrom answers one datagram received from the endpoint from.
func (r *CoAPReplica) answerFrom(from netip.AddrPort, d []byte) []byte {
	source := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	// From a balancer the header is read when present: a CoAP request
	// cannot begin with "PR" (the code would be 2.18, a response), and a
	// datagram the balancer sends must carry one it wrote, since it
	// prepends one to every datagram it relays.
	if r.fromBalancer(source.Addr()) && bytes.HasPrefix(d, []byte("PROXY ")) {
		var err error
		if source, d, err = parseProxyHeader(d); err != nil {
			r.c.srv.cfg.Logger.Debug("atls: coap datagram from balancer", "from", from, "err", err)
			return nil
		}
	}
	return r.answerDatagram(context.Background(), source, d, true)
}

func (r *CoAPReplica) fromBalancer(a netip.Addr) bool {
	for _, p := range r.cfg.Balancers {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
