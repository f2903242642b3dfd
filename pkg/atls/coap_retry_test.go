package atls

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Profile 7.4 through a lossy path: a lost answer is recovered by the
// client, and the flight reaches TLS once.

// lossyProxy relays UDP between one client and the server, dropping the
// server's answers that drop selects.
type lossyProxy struct {
	t      *testing.T
	conn   *net.UDPConn
	server *net.UDPAddr
	drop   func(answer *coapReply) bool

	mu      sync.Mutex
	client  *net.UDPAddr
	dropped int
}

func newLossyProxy(t *testing.T, server *net.UDPAddr, drop func(*coapReply) bool) *lossyProxy {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.DialUDP("udp", nil, server)
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{t: t, conn: conn, server: server, drop: drop}
	go func() { // client → server
		buf := make([]byte, 70000)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			p.client = from
			p.mu.Unlock()
			up.Write(buf[:n])
		}
	}()
	go func() { // server → client
		buf := make([]byte, 70000)
		for {
			n, err := up.Read(buf)
			if err != nil {
				return
			}
			reply, err := readReply(decodeDatagram(t, buf[:n]))
			p.mu.Lock()
			client := p.client
			lose := err == nil && p.drop(reply)
			if lose {
				p.dropped++
			}
			p.mu.Unlock()
			if !lose {
				conn.WriteToUDP(buf[:n], client)
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); up.Close() })
	return p
}

func (p *lossyProxy) addr() string { return p.conn.LocalAddr().String() }

func (p *lossyProxy) droppedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// dropFirst loses the first answer with code c.
func dropFirst(c codes.Code) func(*coapReply) bool {
	done := false
	return func(a *coapReply) bool {
		if done || a.code != c {
			return false
		}
		done = true
		return true
	}
}

// A lost 2.04 is recovered by go-coap's retransmission of the same
// Confirmable message, answered from the exchange cache.
func TestCoAPLostAnswerRetransmission(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	proxy := newLossyProxy(t, h.addr, dropFirst(codes.Changed))
	c := h.coapClient(ProtoOSCORE)
	c.Addr = proxy.addr()
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(context.Background())
	if proxy.droppedCount() != 1 {
		t.Fatal("nothing was lost")
	}
	// ClientHello (after the Echo round) and Finished: two flights.
	if got := h.coap.Stats().Flights; got != 2 {
		t.Fatalf("%d flights reached the engine, want 2", got)
	}
	if h.sink.len() != 1 {
		t.Fatal("no context exported")
	}
}

// When the exchange itself times out, the client sends the flight again in
// a new exchange (new message IDs); the engine answers it as the retry of
// 1.7, without feeding TLS, and the key export completes once.
func TestCoAPFlightRetriedInNewExchange(t *testing.T) {
	h := newCoAPHarness(t, nil, CoAPConfig{})
	proxy := newLossyProxy(t, h.addr, dropFirst(codes.Changed))
	c := h.coapClient(ProtoOSCORE)
	c.Addr = proxy.addr()
	// Shorter than go-coap's first retransmission (2-3 s), so that the
	// retry is a new exchange rather than the same message again.
	c.ExchangeTimeout = 500 * time.Millisecond
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(context.Background())
	if proxy.droppedCount() != 1 {
		t.Fatal("nothing was lost")
	}
	if got := h.coap.Stats().Flights; got != 3 {
		t.Fatalf("%d flights reached the binding's engine call, want 3 (the retry included)", got)
	}
	h.cids.mu.Lock()
	cids := len(h.cids.used)
	h.cids.mu.Unlock()
	if h.sink.len() != 1 || cids != 1 {
		t.Fatalf("%d contexts, %d CIDs: the retry was exported again", h.sink.len(), cids)
	}
	ec := sess.Exported()
	if srv := h.sink.get(ec.SenderID); srv == nil || string(srv.MasterSecret) != string(ec.MasterSecret) {
		t.Fatal("client and server contexts differ")
	}
}
