package atls

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkCoAPHandshake measures complete atls-oscore handshakes (key
// export and DELETE included) over the CoAP binding against the same over
// the HTTP binding, same server and certificates, in the same run. Each
// CoAP session uses a fresh UDP socket, so every one pays the Echo round
// trip of a new source (7.6), as a new pledge would.
func BenchmarkCoAPHandshake(b *testing.B) {
	h := newCoAPHarness(b, func(c *ServerConfig) { c.RateLimit = RateLimit{PerSecond: -1} }, CoAPConfig{})
	b.Run("http", func(b *testing.B) {
		c := h.client(ProtoOSCORE)
		b.ReportAllocs()
		for b.Loop() {
			sess, err := c.Handshake(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			sess.Close(context.Background())
		}
	})
	for _, bs := range []int{1024, 256} {
		b.Run("coap-block"+strconv.Itoa(bs), func(b *testing.B) {
			c := h.coapClient(ProtoOSCORE)
			c.BlockSize = bs
			b.ReportAllocs()
			for b.Loop() {
				sess, err := c.Handshake(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				sess.Close(context.Background())
			}
		})
	}
}
