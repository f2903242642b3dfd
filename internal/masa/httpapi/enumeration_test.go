package httpapi_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// answer is everything a caller sees of a device-side response but the
// Date header.
type answer struct {
	status int
	header string
	body   string
}

func answerOf(resp *http.Response, body []byte) answer {
	var h []string
	for k, vs := range resp.Header {
		// Date and the request id change with every request and say
		// nothing of the serial; every other header must be identical.
		if k != "Date" && k != "X-Request-Id" {
			h = append(h, k+": "+strings.Join(vs, ", "))
		}
	}
	slices.Sort(h)
	return answer{resp.StatusCode, strings.Join(h, "\n"), string(body)}
}

// TestNoEnumeration is issue 11 item 10: a caller that is not the device
// owner's registrar cannot tell an unknown serial-number, a device not sold
// yet and a device sold to another domain apart, on requestvoucher and on
// requestauditlog (RFC 8995 5.5, 5.6, 5.8): the status, the headers (but
// Date) and the body are byte-identical across the three, and no voucher,
// owner or event is written. The callers: an unsigned or forged request,
// a registrar with a self-signed id-kp-cmcRA certificate, and the
// registrar of another registered domain (also over its TLS client
// certificate); each asks nonceless on its own and with the pledge's own
// request.
func TestNoEnumeration(t *testing.T) {
	p := newTestPKI(t)
	e := newEnv(t, p.config())
	ctx := context.Background()
	if _, err := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "test"); err != nil {
		t.Fatal(err)
	}
	ownerB, err := e.svc.CreateOwner(ctx, "b", p.b.ca.cert.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	devices := map[string]keyPair{
		"unknown":         newUnregisteredPledge(t, p, "EN-UNKNOWN"), // an IDevID the MASA never registered
		"unsold":          newPledge(t, e, "EN-UNSOLD", "widget"),
		"owned-by-b":      newPledge(t, e, "EN-OWNED-B", "widget"),
		"owned-by-b-tofu": newPledge(t, e, "EN-OWNED-B-TOFU", "gadget"),
		"unsold-tofu":     newPledge(t, e, "EN-UNSOLD-TOFU", "gadget"),
	}
	for _, serial := range []string{"EN-OWNED-B", "EN-OWNED-B-TOFU"} {
		if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{serial}}, ownerB.ID, "test"); err != nil {
			t.Fatal(err)
		}
	}
	// Policies that would reveal the device if consulted too early.
	if err := e.svc.SetPolicy(ctx, "product", "gadget", masa.Policy{TrustOnFirstUse: true, NoncelessAllowed: true, MaxLifetime: time.Hour}, "test"); err != nil {
		t.Fatal(err)
	}
	selfSigned := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "registrar.example.net"}, IsCA: true, BasicConstraintsValid: true,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}, nil)

	type probe struct {
		name   string
		build  func(pledge keyPair) []byte
		client *http.Client
	}
	unsigned := func(pledge keyPair) []byte {
		js, _ := json.Marshal(map[string]any{"ietf-voucher-request:voucher": map[string]any{
			"assertion": "proximity", "serial-number": pledge.cert.Subject.SerialNumber, "nonce": "n"}})
		return js
	}
	forged := func(pledge keyPair) []byte {
		der := forDomain(pledge, p.a, "n").build(t)
		der[len(der)-3] ^= 0x5a // inside the signature value
		return der
	}
	as := func(reg keyPair, chain []*x509.Certificate, nonce string) func(keyPair) []byte {
		return func(pledge keyPair) []byte {
			return request{pledge: pledge, registrar: reg, chain: chain, nonce: nonce}.build(t)
		}
	}
	aChain := []*x509.Certificate{p.a.ca.cert}
	probes := []probe{
		{"unsigned request", unsigned, e.client(nil)},
		{"forged signature", forged, e.client(nil)},
		{"self-signed cmcRA, nonceless", as(selfSigned, nil, ""), e.client(nil)},
		{"self-signed cmcRA, with the pledge's request", as(selfSigned, nil, "n-1"), e.client(nil)},
		{"self-signed cmcRA over its TLS certificate, nonceless", as(selfSigned, nil, ""), e.client(selfSigned.tls())},
		{"another domain's registrar, nonceless", as(p.a.registrar, aChain, ""), e.client(nil)},
		{"another domain's registrar over its TLS certificate, nonceless", as(p.a.registrar, aChain, ""), e.client(p.a.registrar.tls())},
		{"another domain's registrar, with the pledge's request", as(p.a.registrar, aChain, "n-1"), e.client(nil)},
	}
	kinds := []string{"unknown", "unsold", "owned-by-b", "owned-by-b-tofu", "unsold-tofu"}
	want404 := answer{status: 404, header: "Content-Length: " + fmt.Sprint(len(masa.ReasonNoSuchDevice)+1) +
		"\nContent-Type: text/plain; charset=utf-8", body: masa.ReasonNoSuchDevice + "\n"}

	before := e.snapshot()
	for _, endpoint := range []string{"requestvoucher", "requestauditlog"} {
		url := e.device.URL + "/.well-known/brski/" + endpoint
		for _, pr := range probes {
			t.Run(endpoint+"/"+pr.name, func(t *testing.T) {
				got := map[string]answer{}
				for _, kind := range kinds {
					if kind == "unsold-tofu" && strings.Contains(pr.name, "with the pledge's request") {
						// The holder of an unsold device whose policy is
						// trust on first use may claim it: that is the
						// policy, not an oracle (TestOpenAPIConformance).
						continue
					}
					got[kind] = answerOf(postCMS(t, pr.client, url, pr.build(devices[kind]), ""))
				}
				// A registered domain's registrar that holds the unsold device
				// (the pledge signed a request pinning it) is told the decision
				// is pending: 202 Retry-After, RFC 8995 5.6. It learns nothing
				// it cannot learn from the device in its hands.
				if endpoint == "requestvoucher" && pr.name == "another domain's registrar, with the pledge's request" {
					if a := got["unsold"]; a.status != 202 || !strings.Contains(a.header, "Retry-After: 60") {
						t.Errorf("the holder of the unsold device: %+v", a)
					}
					delete(got, "unsold")
				}
				ref := got["unknown"]
				for kind, a := range got {
					if a != ref {
						t.Errorf("%s answered differently from unknown:\n%+v\n%+v", kind, a, ref)
					}
				}
				if strings.Contains(pr.name, "cmcRA") || strings.Contains(pr.name, "registrar") {
					if ref != want404 {
						t.Errorf("answer %+v, want %+v", ref, want404)
					}
				} else if ref.status != 400 && ref.status != 403 {
					t.Errorf("bad request answered %+v", ref)
				}
			})
		}
	}
	// The refusals wrote nothing: no voucher, no owner, no event.
	if after := e.snapshot(); after != before {
		t.Errorf("database changed:\nbefore %s\nafter  %s", before, after)
	}
	// The owner's registrar is still answered: a voucher, and the log.
	if resp, b := postCMS(t, e.client(nil), e.device.URL+"/.well-known/brski/requestvoucher", forDomain(devices["owned-by-b"], p.b, "n-b").build(t), ""); resp.StatusCode != 200 {
		t.Fatalf("owner: %d %s", resp.StatusCode, b)
	}
	if resp, b := postCMS(t, e.client(nil), e.device.URL+"/.well-known/brski/requestauditlog", forDomain(devices["owned-by-b"], p.b, "n-b2").build(t), ""); resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"nonce":"n-b"`)) {
		t.Fatalf("owner's audit log: %d %s", resp.StatusCode, b)
	}
}
