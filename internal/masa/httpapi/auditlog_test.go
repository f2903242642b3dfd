package httpapi_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
)

// TestAuditLogTruncation: the log lists the newest events, oldest first,
// and counts the rest (RFC 8995 5.8.1); after ownership moves, only the
// new owner may read it, and it shows both domains; the former owner is
// answered as for an unknown device.
func TestAuditLogTruncation(t *testing.T) {
	p := newTestPKI(t)
	cfg := p.config()
	cfg.auditLimit = 2
	e := newEnv(t, cfg)
	ctx := context.Background()
	pledge := newPledge(t, e, "AL-1", "widget")
	a, _ := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "t")
	b, _ := e.svc.CreateOwner(ctx, "b", p.b.ca.cert.Raw, "t")
	sel := masa.Selection{SerialNumbers: []string{"AL-1"}}
	e.svc.AssignOwner(ctx, sel, a.ID, "t")
	url := e.device.URL + "/.well-known/brski/requestvoucher"
	for _, nonce := range []string{"n1", "n2"} {
		if resp, body := postCMS(t, e.client(nil), url, forDomain(pledge, p.a, nonce).build(t), ""); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		e.now = e.now.Add(time.Minute)
	}
	e.svc.AssignOwner(ctx, sel, b.ID, "t")
	if resp, body := postCMS(t, e.client(nil), url, forDomain(pledge, p.b, "n3").build(t), ""); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	logURL := e.device.URL + "/.well-known/brski/requestauditlog"
	if resp, b := postCMS(t, e.client(nil), logURL, forDomain(pledge, p.a, "x").build(t), ""); resp.StatusCode != 404 || string(b) != masa.ReasonNoSuchDevice+"\n" {
		t.Errorf("former owner read the log: %d %s", resp.StatusCode, b)
	}
	resp, body := postCMS(t, e.client(nil), logURL, forDomain(pledge, p.b, "x").build(t), "")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var log masa.AuditLog
	if err := json.Unmarshal(body, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Events) != 2 || *log.Events[0].Nonce != "n2" || *log.Events[1].Nonce != "n3" || log.Truncation.Arbitrary != 1 ||
		log.Events[0].DomainID != masa.DomainID(p.a.ca.cert) || log.Events[1].DomainID != masa.DomainID(p.b.ca.cert) {
		t.Errorf("audit log = %s", body)
	}
}

// TestRequireRegistrarTLS: with client-auth "require", a nonced request
// needs the registrar's TLS client certificate of the owner's domain too.
func TestRequireRegistrarTLS(t *testing.T) {
	p := newTestPKI(t)
	cfg := p.config()
	cfg.requireTLS = true
	e := newEnv(t, cfg)
	ctx := context.Background()
	pledge := newPledge(t, e, "RT-1", "widget")
	a, _ := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "t")
	e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{"RT-1"}}, a.ID, "t")
	url := e.device.URL + "/.well-known/brski/requestvoucher"
	body := forDomain(pledge, p.a, "n").build(t)
	for _, tc := range []struct {
		name   string
		client *keyPair
		want   int
	}{
		{"no client certificate", nil, 403},
		{"another domain's certificate", &p.b.registrar, 403},
		{"the owner's registrar", &p.a.registrar, 200},
	} {
		c := e.client(nil)
		if tc.client != nil {
			c = e.client(tc.client.tls())
		}
		if resp, b := postCMS(t, c, url, body, ""); resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, b)
		}
	}
}
