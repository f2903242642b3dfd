package sandbox_test

import (
	"context"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/sandbox"
)

// testSecurityNginx: the sandbox's nginx stops whole, master and workers,
// however it is stopped (item 16): a worker left listening would keep
// serving a port later tests and load runs believe free.
func testSecurityNginx(t *testing.T) {
	upstream, _ := url.Parse("http://127.0.0.1:9")
	for _, tc := range []struct {
		name   string
		cancel bool // the caller's context ends first: the master is killed
	}{
		{"16/stop", false},
		{"16/context-cancelled-then-stop", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ngx, err := sandbox.StartNginx(ctx, []*url.URL{upstream})
			if err != nil {
				t.Fatal(err)
			}
			addr := ngx.URL[len("https://"):]
			if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
				t.Fatalf("nginx not listening: %v", err)
			} else {
				c.Close()
			}
			if tc.cancel {
				cancel()
			}
			ngx.Stop()
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatalf("%s still accepts connections after Stop: an nginx worker outlived its master", addr)
			}
			if ngx.ProcessGroup() != 0 {
				t.Fatal("Stop left a process group behind")
			}
		})
	}
}
