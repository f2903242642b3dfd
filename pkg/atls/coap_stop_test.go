package atls

import (
	"testing"
	"time"

	coapnet "github.com/plgd-dev/go-coap/v3/net"
)

// TestCoAPStopBeforeServe: a Stop that comes before Serve has started
// (a test harness stopping at once) still ends it; go-coap's own Stop
// would leave it reading forever.
func TestCoAPStopBeforeServe(t *testing.T) {
	h := newHarness(t, nil)
	c, err := NewCoAPServer(h.srv, CoAPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := coapnet.NewListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c.Stop()
	done := make(chan error, 1)
	go func() { done <- c.Serve(l) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // only stops a broken test from hanging
		t.Fatal("Serve after Stop did not return")
	}
}
