package sandbox_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/atls"
)

// coapListeners opens the registrar's CoAP listener on every replica of
// d; they trust loopback (the sandbox's trusted proxy, where nginx runs)
// to name clients in a PROXY header.
func coapListeners(t testing.TB, d *sandbox.Deployment, cfg atls.CoAPConfig) ([]*registrar.CoAPListener, []netip.AddrPort) {
	t.Helper()
	var ls []*registrar.CoAPListener
	var addrs []netip.AddrPort
	for _, rg := range d.Replicas {
		l, err := rg.ListenCoAP("127.0.0.1:0", cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Serve() }()
		t.Cleanup(func() {
			l.Close()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().(*net.UDPAddr).AddrPort())
	}
	return ls, addrs
}

// TestCoAPHandshakesThroughNginxUDP: key-export handshakes over CoAP
// through nginx's stream module balancing datagram by datagram over two
// replicas, with 64-byte blocks so that every flight spans several
// datagrams, hence both replicas. Every handshake succeeds; both replicas
// received datagrams, those that reached a replica other than their home
// were forwarded and served there; every exported context is in the
// shared store.
func TestCoAPHandshakesThroughNginxUDP(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	reps, addrs := coapListeners(t, d, atls.CoAPConfig{})
	ngx, err := sandbox.StartNginxWith(ctx, sandbox.NginxOptions{HTTP: d.Publics, CoAP: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer ngx.Stop()

	const devices = 6
	for i := range devices {
		serial := fmt.Sprintf("COAP-LB-%d", i)
		idevid, err := d.NewDevice(ctx, serial, true)
		if err != nil {
			t.Fatal(err)
		}
		c := &atls.CoAPClient{
			Addr:        ngx.CoAP.String(),
			TLS:         &tls.Config{Certificates: []tls.Certificate{idevid}},
			Protocols:   []string{atls.ProtoOSCORE},
			Provisional: true,
			BlockSize:   64,
		}
		sess, err := c.Handshake(ctx)
		if err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
		ec := sess.Exported()
		if ec == nil {
			t.Fatalf("device %d: no context exported", i)
		}
		var n int
		if err := d.DB().QueryRow(ctx, `SELECT count(*) FROM atls_contexts WHERE recipient_id = $1`, ec.SenderID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("device %d: %d contexts in the shared store, want 1", i, n)
		}
	}
	var sessions int
	var forwarded, served int64
	for i, r := range reps {
		st := r.ReplicaStats()
		t.Logf("replica %d: %+v, sessions %d", i, st, d.Replicas[i].ATLS().Stats().Sessions)
		if st.Received == 0 {
			t.Fatalf("replica %d received no datagram: the balancer pinned the clients", i)
		}
		forwarded += st.Forwarded
		served += st.Served
		sessions += d.Replicas[i].ATLS().Stats().Sessions
	}
	// Which replica is a session's home depends on the client's port;
	// that messages reached the other replica and went home does not.
	if forwarded == 0 || served != forwarded {
		t.Fatalf("%d messages forwarded to their home, %d served there", forwarded, served)
	}
	if sessions != devices {
		t.Fatalf("%d sessions across the replicas, want %d", sessions, devices)
	}
}

// A forwarded CoAP message names the client's endpoint, which Echo
// verifies: the public listener (no replica's certificate) is refused.
func TestForwardedCoAPNeedsAReplica(t *testing.T) {
	d := testdeploy.Start(t)
	coapListeners(t, d, atls.CoAPConfig{})
	req, err := http.NewRequest(http.MethodPost, d.Publics[0].JoinPath(atls.DefaultPath).String(), strings.NewReader("\x40\x01\x00\x01"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(atls.CoAPSourceHeader, "192.0.2.1:5683")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("forwarded CoAP over the public listener: %d, want 403", resp.StatusCode)
	}
}
