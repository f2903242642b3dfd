package sandbox_test

import (
	"context"
	"crypto/tls"
	"strconv"
	"testing"

	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/atls"
)

// BenchmarkATLSHandshakeBalanced measures complete atls-oscore key-export
// handshakes (DELETE included) against two replicas on PostgreSQL, in the
// same run: over HTTP through nginx terminating TLS, and over CoAP through
// nginx's UDP balancer (per datagram, no stickiness, so about half the
// messages are forwarded to their home replica), and over CoAP straight to
// one replica's listener. Each CoAP handshake uses
// a fresh UDP socket and so pays the Echo round trip of a new source.
func BenchmarkATLSHandshakeBalanced(b *testing.B) {
	ctx := context.Background()
	d := testdeploy.StartWith(b, sandbox.Options{RateLimit: atls.RateLimit{PerSecond: -1}})
	ls, addrs := coapListeners(b, d, atls.CoAPConfig{})
	ngx, err := sandbox.StartNginxWith(ctx, sandbox.NginxOptions{HTTP: d.Publics, CoAP: addrs})
	if err != nil {
		b.Fatal(err)
	}
	defer ngx.Stop()
	idevid, err := d.NewDevice(ctx, "COAP-BENCH-1", true)
	if err != nil {
		b.Fatal(err)
	}
	devTLS := &tls.Config{Certificates: []tls.Certificate{idevid}}
	b.Run("http-nginx", func(b *testing.B) {
		c := &atls.Client{URL: ngx.URL + atls.DefaultPath, HTTP: ngx.Client(), TLS: devTLS, Protocols: []string{atls.ProtoOSCORE}, Provisional: true}
		for b.Loop() {
			sess, err := c.Handshake(ctx)
			if err != nil {
				b.Fatal(err)
			}
			sess.Close(ctx)
		}
	})
	b.Run("coap-direct-block1024", func(b *testing.B) {
		// Replica 0's listener without the balancer; a handshake whose
		// home is replica 1 is still forwarded there.
		c := &atls.CoAPClient{Addr: ls[0].Addr().String(), TLS: devTLS, Protocols: []string{atls.ProtoOSCORE}, Provisional: true, BlockSize: 1024}
		for b.Loop() {
			sess, err := c.Handshake(ctx)
			if err != nil {
				b.Fatal(err)
			}
			sess.Close(ctx)
		}
	})
	for _, bs := range []int{1024, 256} {
		b.Run("coap-nginx-udp-block"+strconv.Itoa(bs), func(b *testing.B) {
			c := &atls.CoAPClient{Addr: ngx.CoAP.String(), TLS: devTLS, Protocols: []string{atls.ProtoOSCORE}, Provisional: true, BlockSize: bs}
			for b.Loop() {
				sess, err := c.Handshake(ctx)
				if err != nil {
					b.Fatal(err)
				}
				sess.Close(ctx)
			}
		})
	}
}
