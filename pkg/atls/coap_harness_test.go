package atls

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// coapHarness is a Server with its HTTP and CoAP bindings on loopback.
type coapHarness struct {
	*harness
	coap *CoAPServer
	addr *net.UDPAddr
}

func newCoAPHarness(t testing.TB, mutate func(*ServerConfig), ccfg CoAPConfig) *coapHarness {
	t.Helper()
	h := newHarness(t, mutate)
	c, err := NewCoAPServer(h.srv, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := coapnet.NewListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Serve(l)
	}()
	t.Cleanup(func() {
		c.Stop()
		<-done
		l.Close()
	})
	return &coapHarness{harness: h, coap: c, addr: l.LocalAddr().(*net.UDPAddr)}
}

// coapClient is a pledge over CoAP with a certificate the server trusts.
func (h *coapHarness) coapClient(protos ...string) *CoAPClient {
	return &CoAPClient{
		Addr:      h.addr.String(),
		Protocols: protos,
		TLS: &tls.Config{
			Certificates: []tls.Certificate{h.pki.client},
			RootCAs:      h.pki.pool,
			ServerName:   "registrar.example",
		},
	}
}

// tableCounts is the session table's state, compared before and after a
// refused request.
func (h *coapHarness) tableCounts() [2]int {
	s := h.srv.Stats()
	return [2]int{s.Handshakes, s.Sessions}
}

// rawCoAP is a UDP socket that sends hand-built CoAP messages, so that
// tests can send what a well-behaved client never would.
type rawCoAP struct {
	t    testing.TB
	conn *net.UDPConn
	mid  uint16
	// sent and received count the datagram bytes, for the amplification
	// limit of 7.6.
	sent, received int
	// last is the last datagram received.
	last []byte
}

func (h *coapHarness) raw(t testing.TB) *rawCoAP {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawCoAP{t: t, conn: conn, mid: 0x1000}
}

// rawMsg describes one request.
type rawMsg struct {
	typ     message.Type
	code    codes.Code
	mid     uint16 // 0: the next one
	path    []string
	cf      *message.MediaType
	block1  *blockOption
	block2  *blockOption
	size1   *uint32
	echo    []byte
	extra   []message.Option
	payload []byte
}

var cfATLS = ContentFormatATLS

var atlsPath = []string{".well-known", "atls"}

func sessionPathOf(sid string) []string { return []string{".well-known", "atls", sid} }

// encode marshals m as a datagram.
func (r *rawCoAP) encode(m rawMsg) []byte {
	r.t.Helper()
	p := pool.NewMessage(context.Background())
	typ := m.typ
	p.SetType(typ)
	if m.code == 0 {
		m.code = codes.POST
	}
	p.SetCode(m.code)
	if m.mid == 0 {
		r.mid++
		m.mid = r.mid
	}
	p.SetMessageID(int32(m.mid))
	p.SetToken(message.Token{byte(m.mid >> 8), byte(m.mid)})
	for _, seg := range m.path {
		p.AddOptionString(message.URIPath, seg)
	}
	if m.cf != nil {
		p.SetContentFormat(*m.cf)
	}
	if m.block1 != nil {
		p.SetOptionUint32(message.Block1, m.block1.encode())
	}
	if m.block2 != nil {
		p.SetOptionUint32(message.Block2, m.block2.encode())
	}
	if m.size1 != nil {
		p.SetOptionUint32(message.Size1, *m.size1)
	}
	if m.echo != nil {
		p.SetOptionBytes(message.Echo, m.echo)
	}
	for _, o := range m.extra {
		p.AddOptionBytes(o.ID, o.Value)
	}
	if len(m.payload) > 0 {
		p.SetBody(bytes.NewReader(m.payload))
	}
	b, err := p.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

// send sends m and returns the answer.
func (r *rawCoAP) send(m rawMsg) *coapReply {
	r.t.Helper()
	return r.sendBytes(r.encode(m))
}

func (r *rawCoAP) sendBytes(datagram []byte) *coapReply {
	r.t.Helper()
	if _, err := r.conn.Write(datagram); err != nil {
		r.t.Fatal(err)
	}
	r.sent += len(datagram)
	return r.read()
}

// read waits for one answer. The deadline only stops a broken test from
// hanging; nothing is timed.
func (r *rawCoAP) read() *coapReply {
	r.t.Helper()
	buf := make([]byte, 70000)
	r.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := r.conn.Read(buf)
	if err != nil {
		r.t.Fatal(err)
	}
	r.received += n
	reply, err := readReply(decodeDatagram(r.t, buf[:n]))
	if err != nil {
		r.t.Fatal(err)
	}
	r.last = append([]byte(nil), buf[:n]...)
	return reply
}

// verify makes the socket's source verified (7.6): an empty first flight
// is challenged, then, with the Echo value, refused as empty (4.00).
func (r *rawCoAP) verify() {
	r.t.Helper()
	a := r.send(rawMsg{path: atlsPath, cf: &cfATLS})
	if a.code != codes.Unauthorized || a.echo == nil {
		r.t.Fatalf("challenge: %v %q", a.code, a.payload)
	}
	a = r.send(rawMsg{path: atlsPath, cf: &cfATLS, echo: a.echo})
	if a.code != codes.BadRequest {
		r.t.Fatalf("after Echo: %v %q", a.code, a.payload)
	}
}

// clientHello returns the first flight of a fresh TLS client.
func (h *coapHarness) clientHello(t testing.TB, protos ...string) (*rawPledge, []byte) {
	p := newRawPledge(t, h.pledgeTLS(protos...))
	hello, _ := p.next(nil)
	return p, hello
}

// sendBlocks sends flight to path as Block1 blocks of 16<<szx bytes and
// returns the answer to the last one.
func (r *rawCoAP) sendBlocks(path []string, flight []byte, szx uint8, echo []byte) *coapReply {
	r.t.Helper()
	size := 16 << szx
	for off := 0; ; off += size {
		end := min(off+size, len(flight))
		b := &blockOption{num: uint32(off / size), more: end < len(flight), szx: szx}
		m := rawMsg{path: path, cf: &cfATLS, block1: b, payload: flight[off:end]}
		if off == 0 {
			m.echo = echo
		}
		a := r.send(m)
		if !b.more || a.code != codes.Continue {
			return a
		}
	}
}

// decodeDatagram parses one CoAP datagram.
func decodeDatagram(t testing.TB, datagram []byte) *pool.Message {
	t.Helper()
	p := pool.NewMessage(context.Background())
	if _, err := p.UnmarshalWithDecoder(coder.DefaultCoder, datagram); err != nil {
		t.Fatal(err)
	}
	return p
}

// newTestCarrier is a CoAP client's carrier without a session, to send
// single flights.
func newTestCarrier(t testing.TB, c *CoAPClient) *coapCarrier {
	t.Helper()
	carrier, err := c.dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.conn.Close() })
	return carrier
}

// retransmit sends a Confirmable datagram again until it is answered, as
// RFC 7252 4.2 has a client do: go-coap drops a duplicate that arrives
// while the first copy is still being processed (its answer may already
// be on the wire), and answers later ones from its cache.
func (r *rawCoAP) retransmit(datagram []byte) *coapReply {
	r.t.Helper()
	buf := make([]byte, 70000)
	for range 20 {
		if _, err := r.conn.Write(datagram); err != nil {
			r.t.Fatal(err)
		}
		r.sent += len(datagram)
		r.conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := r.conn.Read(buf)
		if err != nil {
			continue
		}
		r.received += n
		r.last = append([]byte(nil), buf[:n]...)
		reply, err := readReply(decodeDatagram(r.t, buf[:n]))
		if err != nil {
			r.t.Fatal(err)
		}
		return reply
	}
	r.t.Fatal("no answer to 20 retransmissions")
	return nil
}

// fetchRest collects the Block2 continuations of first from path.
func (r *rawCoAP) fetchRest(path []string, first *coapReply) []byte {
	r.t.Helper()
	body := append([]byte(nil), first.payload...)
	for b := first.block2; b != nil && b.more; {
		next := &blockOption{num: uint32(len(body) / b.size()), szx: b.szx}
		a := r.send(rawMsg{path: path, cf: &cfATLS, block2: next})
		if a.code != first.code || a.block2 == nil {
			r.t.Fatalf("Block2 continuation: %v %+v %q", a.code, a.block2, a.payload)
		}
		body = append(body, a.payload...)
		b = a.block2
	}
	return body
}
