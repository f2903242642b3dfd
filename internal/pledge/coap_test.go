package pledge

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/landfall-io/landfall/pkg/atls"
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

func TestCoAPStatus(t *testing.T) {
	for _, tc := range []struct {
		err       error
		status    int
		retryable bool
	}{
		{&atls.CoAPStatusError{Code: codes.Forbidden, Reason: "unknown manufacturer"}, 403, false},
		{fmt.Errorf("wrapped: %w", &atls.CoAPStatusError{Code: codes.ServiceUnavailable}), 503, true},
		{&atls.CoAPStatusError{Code: codes.TooManyRequests}, 429, true},
		{&atls.CoAPStatusError{Code: codes.NotFound}, 404, true},
		{&atls.CoAPStatusError{Code: codes.Unauthorized, Reason: "Replay detected"}, 401, false},
		{errors.New("other"), 0, false},
	} {
		if got := coapStatus(tc.err); got != tc.status || retryable(tc.err) != tc.retryable {
			t.Errorf("%v: status %d retryable %v, want %d %v", tc.err, got, retryable(tc.err), tc.status, tc.retryable)
		}
	}
}
