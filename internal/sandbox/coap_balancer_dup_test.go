package sandbox_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/udp/coder"

	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/atls"
)

// rawExchange sends one encoded CoAP message on c and returns the reply
// with the same message ID.
func rawExchange(t *testing.T, c *net.UDPConn, msg []byte) []byte {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

func atlsPost(t *testing.T, mid int32, flight, echo []byte) []byte {
	t.Helper()
	m := pool.NewMessage(context.Background())
	m.SetType(message.Confirmable)
	m.SetCode(codes.POST)
	m.SetMessageID(mid)
	m.SetToken([]byte{0xA1, byte(mid)})
	m.SetPath(atls.DefaultPath)
	m.SetContentFormat(message.MediaType(atls.ContentFormatATLS))
	if echo != nil {
		m.SetOptionBytes(message.Echo, echo)
	}
	m.SetBody(bytes.NewReader(flight))
	out, err := m.MarshalWithEncoder(coder.DefaultCoder)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeReply(t *testing.T, raw []byte) *pool.Message {
	t.Helper()
	m := pool.NewMessage(context.Background())
	if _, err := m.UnmarshalWithDecoder(coder.DefaultCoder, raw); err != nil {
		t.Fatal(err)
	}
	return m
}

// A duplicate Confirmable ClientHello that the non-sticky balancer hands
// to the other replica gets the very answer the first got (the home's
// exchange cache, profile 7.4): the same session location, and no second
// session is started. The Echo challenge one replica issued is accepted
// by the flight that the other receives.
func TestCoAPDuplicateAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	ls, addrs := coapListeners(t, d, atls.CoAPConfig{})
	ngx, err := sandbox.StartNginxWith(ctx, sandbox.NginxOptions{HTTP: d.Publics, CoAP: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer ngx.Stop()
	hello := clientHello(t, atls.ProtoOSCORE)
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ngx.CoAP))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	challenge := decodeReply(t, rawExchange(t, c, atlsPost(t, 100, hello, nil)))
	echo, err := challenge.GetOptionBytes(message.Echo)
	if challenge.Code() != codes.Unauthorized || err != nil {
		t.Fatalf("first ClientHello: %v (Echo %v), want 4.01 with Echo", challenge.Code(), err)
	}
	withEcho := atlsPost(t, 101, hello, echo)
	first := rawExchange(t, c, withEcho)
	again := rawExchange(t, c, withEcho) // the same message ID: a duplicate
	m := decodeReply(t, first)
	if m.Code() != codes.Created {
		t.Fatalf("ClientHello with Echo: %v %s, want 2.01", m.Code(), first)
	}
	loc, err := m.Options().LocationPath()
	if err != nil || loc == "" {
		t.Fatalf("2.01 without Location-Path: %v", err)
	}
	if !bytes.Equal(first, again) {
		t.Fatalf("the duplicate got another answer:\n%x\n%x", first, again)
	}
	sessions, handshakes := 0, 0
	for i, rg := range d.Replicas {
		st := rg.ATLS().Stats()
		sessions += st.Sessions
		handshakes += st.Handshakes
		t.Logf("replica %d: %+v %+v", i, ls[i].ReplicaStats(), st)
	}
	if sessions != 1 {
		t.Fatalf("%d sessions across the replicas after a duplicate ClientHello, want 1", sessions)
	}
	// Both replicas took datagrams: the balancer did not pin the client.
	for i, l := range ls {
		if l.ReplicaStats().Received == 0 {
			t.Fatalf("replica %d received nothing", i)
		}
	}
}
