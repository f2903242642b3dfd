package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestLoadCoAPOSCOREThroughNginx runs a --sandbox --nginx load in
// coap-oscore mode: the devices onboard over CoAP through nginx's UDP
// balancer in front of both replicas, with the report of the HTTP modes.
func TestLoadCoAPOSCOREThroughNginx(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--sandbox", "--nginx", "--devices", "8", "--concurrency", "4", "--mode", "coap-oscore", "--progress=false"}, &out, func(string) string { return "" })
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"nginx UDP balancer at coap://127.0.0.1:", "mode coap-oscore", "8 succeeded, 0 failed", "onboardings/s", "simpleenroll", "total"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("report lacks %q:\n%s", want, out.String())
		}
	}
}
