package httpapi_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/masa"
)

// TestUnsignedAttributesRefused is issue 11 item 15 at the MASA: a
// registrar voucher-request, or the pledge request inside it, whose CMS
// SignerInfo has no signed attributes over id-ct-animaJSONVoucher (RFC
// 5652 5.3) gets 400 with the reason, and no voucher is issued or
// recorded. The same request signed with attributes gets its voucher.
func TestUnsignedAttributesRefused(t *testing.T) {
	p := newTestPKI(t)
	e := newEnv(t, p.config())
	ctx := context.Background()
	pledge := newPledge(t, e, "SA-1", "widget")
	a, err := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{"SA-1"}}, a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	url := e.device.URL + "/.well-known/brski/requestvoucher"
	for _, tc := range []struct {
		name   string
		req    request
		reason string
	}{
		{"registrar voucher-request", request{pledge: pledge, registrar: p.a.registrar, chain: []*x509.Certificate{p.a.ca.cert}, nonce: "n-1", bare: true},
			"no-signed-attributes: eContentType 1.2.840.113549.1.9.16.1.40 needs signed attributes (RFC 5652 5.3)"},
		{"prior-signed-voucher-request", request{pledge: pledge, registrar: p.a.registrar, chain: []*x509.Certificate{p.a.ca.cert}, nonce: "n-2", barePrior: true},
			"no-signed-attributes: prior-signed-voucher-request: eContentType 1.2.840.113549.1.9.16.1.40 needs signed attributes (RFC 5652 5.3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			issued := func() int {
				vs, err := e.store.ListVouchers(ctx, masa.VoucherFilter{SerialNumber: "SA-1", Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				return len(vs)
			}
			n := issued()
			resp, body := postCMS(t, e.client(nil), url, tc.req.build(t), "")
			if resp.StatusCode != 400 || strings.TrimSpace(string(body)) != tc.reason {
				t.Errorf("%d %q, want 400 %q", resp.StatusCode, body, tc.reason)
			}
			if after := e.snapshot(); after != before {
				t.Errorf("database changed:\nbefore %s\nafter  %s", before, after)
			}
			if issued() != n {
				t.Errorf("a voucher was recorded")
			}
			// Signed as Landfall signs, with attributes, it is answered.
			good := tc.req
			good.bare, good.barePrior = false, false
			if resp, body := postCMS(t, e.client(nil), url, good.build(t), ""); resp.StatusCode != 200 {
				t.Errorf("with signed attributes: %d %s", resp.StatusCode, body)
			} else if issued() != n+1 {
				t.Errorf("the voucher was not recorded")
			}
		})
	}
}
