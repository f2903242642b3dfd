package atls

import (
	"context"
	"net/http"
	"net/netip"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// FuzzCoAPOSCORERequest feeds any OSCORE option value and payload to the
// server's OSCORE-over-CoAP processing (profile 7.8) with a live context:
// nothing panics, every answer has one of the codes of 7.8, and the
// replay window moves only for a request that decrypted (a protected
// 2.04).
func FuzzCoAPOSCORERequest(f *testing.F) {
	h, store := newOSCORECoAPHarness(f, nil, CoAPConfig{})
	sess := oscoreSession(f, h, 1024)
	kid := sess.Exported().SenderID
	opt, ct, _, _ := rawOSCORE(f, sess, 3, http.MethodGet, "/.well-known/core", nil)
	f.Add(opt, ct)
	f.Add([]byte{0x09, 0x00, 0xEE}, ct)
	f.Add([]byte{0xFF}, []byte{0})
	f.Add([]byte{}, []byte{})
	source := netip.MustParseAddrPort("192.0.2.1:5683")
	allowed := map[codes.Code]bool{codes.Changed: true, codes.BadOption: true, codes.Unauthorized: true, codes.BadRequest: true}
	f.Fuzz(func(t *testing.T, rawOpt, payload []byte) {
		before := window(t, store, kid)
		a := h.coap.unprotectAndRun(context.Background(), source, rawOpt, payload)
		if !allowed[a.code] {
			t.Fatalf("answer %v %q", a.code, a.payload)
		}
		if a.code == codes.Changed {
			if !a.hasOSCORE {
				t.Fatal("a 2.04 without the OSCORE option")
			}
			return
		}
		if a.hasOSCORE || a.maxAge == nil || *a.maxAge != 0 {
			t.Fatalf("refusal %v %q protected %v, Max-Age %v", a.code, a.payload, a.hasOSCORE, a.maxAge)
		}
		if window(t, store, kid) != before {
			t.Fatalf("refusal %v %q moved the replay window", a.code, a.payload)
		}
	})
}
