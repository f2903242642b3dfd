package atls

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

// newDatagramHarness serves the CoAP binding through CoAPReplica's own
// datagram loop (the registrar's listener), alone (no other replicas),
// trusting loopback as a balancer.
func newDatagramHarness(t testing.TB) (*coapHarness, *CoAPReplica) {
	t.Helper()
	h := newHarness(t, nil)
	c, err := NewCoAPServer(h.srv, CoAPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewCoAPReplica(c, CoAPReplicaConfig{Balancers: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.ServeDatagrams(conn) }()
	t.Cleanup(func() {
		conn.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return &coapHarness{harness: h, coap: c, addr: conn.LocalAddr().(*net.UDPAddr)}, r
}

// The datagram loop serves what go-coap's server served: a handshake in
// 64-byte blocks both ways, with the Echo challenge, and its DELETE.
func TestDatagramLoopHandshake(t *testing.T) {
	h, r := newDatagramHarness(t)
	c := h.coapClient(ProtoOSCORE)
	c.Provisional = true
	c.BlockSize = 64
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sess.Exported() == nil || h.tableCounts() != [2]int{0, 1} {
		t.Fatalf("exported %v, table %v", sess.Exported() != nil, h.tableCounts())
	}
	if err := sess.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.tableCounts() != [2]int{0, 0} {
		t.Fatalf("table %v after DELETE", h.tableCounts())
	}
	if st := r.Stats(); st.Received < 10 || st.Forwarded != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// libcoap through the datagram loop: Block1 in, Block2 out, Echo.
func TestDatagramLoopLibcoapBlockwise(t *testing.T) {
	bin := coapClientBinary(t)
	h, _ := newDatagramHarness(t)
	_, hello := h.clientHello(t, ProtoOSCORE)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "hello.bin"), filepath.Join(dir, "answer.bin")
	if err := os.WriteFile(in, hello, 0o600); err != nil {
		t.Fatal(err)
	}
	uri := fmt.Sprintf("coap://%s/.well-known/atls", h.addr)
	log := runCoAPClient(t, bin, "-m", "post", "-t", "65001", "-b", "64", "-f", in, "-o", out, "-U", "-v", "7", "-B", "30", uri)
	if !libcoapCreated.MatchString(log) || libcoapLocation.FindStringSubmatch(log) == nil || !bytes.Contains([]byte(log), []byte("Echo")) {
		logPDUs(t, log)
		t.Fatal("no Echo challenge, 2.01 or session location in libcoap's log")
	}
	answer, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkFlight(answer); err != nil || len(answer) <= 64 {
		t.Fatalf("answer of %d bytes: %v", len(answer), err)
	}
}

func encodeMessage(t *testing.T, typ message.Type, code codes.Code, mid int32, opts ...message.Option) []byte {
	t.Helper()
	m := pool.NewMessage(context.Background())
	m.SetType(typ)
	m.SetCode(code)
	m.SetMessageID(mid)
	if code != codes.Empty {
		m.SetToken([]byte{1, 2})
		m.SetPath(DefaultPath)
	}
	for _, o := range opts {
		m.AddOptionBytes(o.ID, o.Value)
	}
	out, err := m.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeMessage(t *testing.T, raw []byte) *pool.Message {
	t.Helper()
	m := pool.NewMessage(context.Background())
	if _, err := m.UnmarshalWithDecoder(coder.DefaultCoder, raw); err != nil {
		t.Fatal(err)
	}
	return m
}

// The envelope of RFC 7252 the loop does itself: a ping is reset, ACK,
// RST, responses and undecodable bytes draw nothing, an unknown critical
// option is 4.02 in a Confirmable request and silence in a
// Non-confirmable one, a Non-confirmable flight is 4.00 in NON; none of
// them changes the session table.
func TestDatagramLoopEnvelope(t *testing.T) {
	h, r := newDatagramHarness(t)
	src := netip.MustParseAddrPort("192.0.2.9:5683")
	ctx := context.Background()
	ping := decodeMessage(t, r.answerDatagram(ctx, src, encodeMessage(t, message.Confirmable, codes.Empty, 7), true))
	if ping.Type() != message.Reset || ping.MessageID() != 7 {
		t.Fatalf("ping: %v %d, want RST 7", ping.Type(), ping.MessageID())
	}
	for name, d := range map[string][]byte{
		"ACK":          encodeMessage(t, message.Acknowledgement, codes.Empty, 8),
		"RST":          encodeMessage(t, message.Reset, codes.Empty, 9),
		"response":     encodeMessage(t, message.Confirmable, codes.Content, 10),
		"garbage":      {0xFF, 0x00},
		"NON critical": encodeMessage(t, message.NonConfirmable, codes.POST, 11, message.Option{ID: 2049, Value: []byte{1}}),
	} {
		if out := r.answerDatagram(ctx, src, d, true); out != nil {
			t.Errorf("%s: answered %x", name, out)
		}
	}
	bad := decodeMessage(t, r.answerDatagram(ctx, src, encodeMessage(t, message.Confirmable, codes.POST, 12, message.Option{ID: 2049, Value: []byte{1}}), true))
	if bad.Code() != codes.BadOption || bad.Type() != message.Acknowledgement || bad.MessageID() != 12 {
		t.Fatalf("unknown critical option: %v %v %d, want 4.02 ACK 12", bad.Code(), bad.Type(), bad.MessageID())
	}
	non := decodeMessage(t, r.answerDatagram(ctx, src, encodeMessage(t, message.NonConfirmable, codes.POST, 13), true))
	if non.Code() != codes.BadRequest || non.Type() != message.NonConfirmable {
		t.Fatalf("NON flight: %v %v, want 4.00 NON", non.Code(), non.Type())
	}
	if h.tableCounts() != [2]int{0, 0} {
		t.Fatalf("table %v", h.tableCounts())
	}
}

// From a balancer the client is the endpoint the PROXY line names: the
// Echo challenge is bound to it, not to the balancer's socket; a
// malformed line is dropped; from anyone else the line is no header.
func TestDatagramLoopProxyHeader(t *testing.T) {
	h, r := newDatagramHarness(t)
	_, hello := h.clientHello(t, ProtoOSCORE)
	m := pool.NewMessage(context.Background())
	m.SetType(message.Confirmable)
	m.SetCode(codes.POST)
	m.SetMessageID(21)
	m.SetToken([]byte{3})
	m.SetPath(DefaultPath)
	m.SetContentFormat(message.MediaType(ContentFormatATLS))
	m.SetBody(bytes.NewReader(hello))
	msg, err := m.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		t.Fatal(err)
	}
	balancer := netip.MustParseAddrPort("127.0.0.1:40001")
	client := netip.MustParseAddrPort("198.51.100.4:61616")
	line := []byte("PROXY TCP4 198.51.100.4 127.0.0.1 61616 5683\r\n")
	a := decodeMessage(t, r.answerFrom(balancer, append(line, msg...)))
	echo, err := a.GetOptionBytes(message.Echo)
	if a.Code() != codes.Unauthorized || err != nil {
		t.Fatalf("ClientHello: %v, want 4.01 with Echo", a.Code())
	}
	now := h.srv.cfg.Now()
	if r.c.echo.accept(echo, balancer.String(), now) {
		t.Fatal("the Echo value was bound to the balancer's socket")
	}
	if !r.c.echo.accept(echo, client.String(), now) {
		t.Fatal("the Echo value is not bound to the client the PROXY line names")
	}
	if out := r.answerFrom(balancer, append([]byte("PROXY TCP4 nonsense\r\n"), msg...)); out != nil {
		t.Fatalf("malformed PROXY line answered %x", out)
	}
	if out := r.answerFrom(netip.MustParseAddrPort("192.0.2.50:1"), append(line, msg...)); out != nil {
		t.Fatalf("a PROXY line from a client (a CoAP response 2.18 to the server) answered %x", out)
	}
	if h.tableCounts() != [2]int{0, 0} {
		t.Fatalf("table %v", h.tableCounts())
	}
}
