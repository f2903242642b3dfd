package sandbox

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// This file writes the stream part of the sandbox's nginx: a UDP balancer
// in front of the replicas' CoAP listeners, round-robin per datagram and
// without stickiness, as issue 16 asks of a real middlebox.
//
// nginx keeps a UDP "session" per client endpoint and sends every
// datagram of it to the upstream chosen at its start. proxy_requests 1
// ends the session after one client datagram and proxy_responses 1 after
// one answer, so each datagram starts a session of its own and the
// round-robin choice is made per datagram: consecutive blocks of one
// flight reach different replicas. Each session also has its own upstream
// socket, so a replica sees a new source port for every datagram; with
// proxy_protocol on, nginx prepends a PROXY v1 line naming the client's
// endpoint, which the replicas' CoAP binding reads (atls.CoAPReplica).
//
// A datagram sent to a replica that is gone is lost: the kernel refuses
// it, nginx answers the client with an empty datagram (which a CoAP
// client drops as malformed; go-coap logs "message is truncated") and
// leaves the replica out for fail_timeout (10 s by default); the client's
// retransmission reaches a live one.

// streamModulePaths are where Debian's libnginx-mod-stream puts the
// module (dpkg -L libnginx-mod-stream).
var streamModulePaths = []string{
	"/usr/lib/nginx/modules/ngx_stream_module.so",
	"/usr/share/nginx/modules/ngx_stream_module.so",
}

// streamModule finds nginx's dynamic stream module.
func streamModule() (string, error) {
	for _, p := range streamModulePaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("sandbox: nginx's stream module not found (apt-get install libnginx-mod-stream, or run scripts/deps.sh)")
}

// streamConfig is the module's load and the UDP balancer on port.
func streamConfig(module string, port int, upstreams []netip.AddrPort) string {
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "        server %s;\n", u)
	}
	return fmt.Sprintf(`# UDP balancer for CoAP: round-robin per datagram, no stickiness; the
# client's endpoint travels in a PROXY v1 header (internal/sandbox/nginx_stream.go).
load_module %s;
stream {
    upstream registrars_coap {
%s    }
    server {
        listen 127.0.0.1:%d udp;
        proxy_pass registrars_coap;
        proxy_protocol on;
        proxy_requests 1;
        proxy_responses 1;
        proxy_timeout 10s;
    }
}
`, module, servers.String(), port)
}

// freeUDPPort is a UDP port free at the time of asking.
func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
