package pledge

import (
	"strings"
	"testing"
)

func TestCoAPAddr(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"coap://10.0.0.5:5684", "10.0.0.5:5684", ""},
		{"coap://registrar.example", "registrar.example:5683", ""},
		{"127.0.0.1:9999", "127.0.0.1:9999", ""},
		{"https://lb.example", "", "needs a coap://host:port registrar URL"},
		{"coap://", "", "needs a coap://host:port registrar URL"},
	} {
		got, err := coapAddr(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q %v, want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
}
