package admin_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// problem is an RFC 9457 problem document as the registrar sends it.
type problem struct {
	Type   string           `json:"type"`
	Title  string           `json:"title"`
	Status int              `json:"status"`
	Detail string           `json:"detail"`
	Rows   []store.RowError `json:"rows"`
}

// TestEndpoints drives every endpoint of the admin API with real requests
// over a real listener and PostgreSQL; every request and response is
// validated against api/openapi.yaml (tag registrar-admin), and every operation of the
// spec must have been exercised. Each change must leave an audit event
// naming the token that made it.
func TestEndpoints(t *testing.T) {
	sc, doc := newSpecChecker(t)
	e := newEnv(t, sc)
	ctx := context.Background()
	adm, op, aud := e.tokens[store.RoleAdmin], e.tokens[store.RoleOperator], e.tokens[store.RoleAuditor]
	pAdm, _ := e.store.Authenticate(ctx, adm)
	pOp, _ := e.store.Authenticate(ctx, op)

	e.expect(200, call{method: "GET", path: "/healthz"}, nil)
	e.expect(200, call{method: "GET", path: "/readyz"}, nil)

	// Manufacturers (admin): PEM and base64 DER anchors.
	acmeAnchor := selfSigned(t, "Acme IDevID CA")
	var acme, bolt store.Manufacturer
	e.expect(201, call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json",
		body: mustJSON(map[string]any{"name": "Acme", "idevid_anchor": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: acmeAnchor})),
			"masa_url": "https://masa.acme.example", "masa_anchor": base64.StdEncoding.EncodeToString(selfSigned(t, "Acme MASA")),
			"serial_field": "hardwareModuleName", "ldevid_uri_template": "urn:dev:serial:{{.SerialNumber}}"})}, &acme)
	e.expect(201, call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json",
		body: mustJSON(map[string]any{"name": "Bolt", "idevid_anchor": base64.StdEncoding.EncodeToString(selfSigned(t, "Bolt CA"))})}, &bolt)
	if acme.SerialField != "hardwareModuleName" || string(acme.IDevIDAnchor) != string(acmeAnchor) || bolt.SerialField != "serialNumber" ||
		acme.LDevIDURITemplate != "urn:dev:serial:{{.SerialNumber}}" || acme.LDevIDDNSTemplate != "" || bolt.LDevIDURITemplate != "" {
		t.Errorf("created %+v %+v", acme, bolt)
	}
	var ms page[store.Manufacturer]
	e.expect(200, call{method: "GET", path: "/api/v1/manufacturers", token: aud}, &ms)
	if len(ms.Items) != 2 {
		t.Errorf("manufacturers: %+v", ms)
	}
	var got store.Manufacturer
	e.expect(200, call{method: "GET", path: fmt.Sprintf("/api/v1/manufacturers/%d", acme.ID), token: aud}, &got)
	e.expect(200, call{method: "PUT", path: fmt.Sprintf("/api/v1/manufacturers/%d", bolt.ID), token: adm, contentType: "application/json",
		body: mustJSON(map[string]any{"name": "Bolt Inc", "idevid_anchor": base64.StdEncoding.EncodeToString(bolt.IDevIDAnchor),
			"ldevid_dns_template": "{{.SerialNumber}}.devices.example.net"})}, &got)
	if got.Name != "Bolt Inc" || got.LDevIDDNSTemplate != "{{.SerialNumber}}.devices.example.net" {
		t.Errorf("updated: %+v", got)
	}

	// Allow-list (operator): CSV and JSON imports, list, delete.
	var res store.ImportResult
	e.expect(200, call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "text/csv; charset=utf-8",
		body: []byte("manufacturer,serial,note\nAcme,A-1,rack 1\nAcme,A/2,slash\n")}, &res)
	e.expect(200, call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "application/json",
		body: []byte(`{"version":1,"entries":[{"manufacturer":"Bolt Inc","serial":"B-1"},{"manufacturer":"Acme","serial":"A-1","note":"rack 2"}]}`)}, &res)
	if res != (store.ImportResult{Added: 1, Updated: 1}) {
		t.Errorf("JSON import: %+v", res)
	}
	var bad problem
	e.expect(422, call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "text/csv",
		body: []byte("manufacturer,serial,note\nAcme,A-3,\nNobody,N-1,\nAcme,,\n")}, &bad)
	if len(bad.Rows) != 2 || bad.Rows[0].Line != 3 || bad.Rows[1].Line != 4 {
		t.Errorf("import problem rows: %+v", bad.Rows)
	}
	var al page[store.AllowEntry]
	e.expect(200, call{method: "GET", path: "/api/v1/allowlist?limit=2", token: aud}, &al)
	if len(al.Items) != 2 || al.Next == "" {
		t.Fatalf("allow-list page: %+v", al)
	}
	e.expect(200, call{method: "GET", path: "/api/v1/allowlist?cursor=" + al.Next, token: aud}, &al)
	if len(al.Items) != 1 || al.Items[0].Manufacturer != "Bolt Inc" {
		t.Errorf("second allow-list page: %+v", al)
	}
	e.expect(200, call{method: "GET", path: fmt.Sprintf("/api/v1/allowlist?manufacturer_id=%d", acme.ID), token: aud}, &al)
	if len(al.Items) != 2 || al.Items[0].Note != "rack 2" {
		t.Errorf("Acme's allow-list: %+v", al)
	}
	e.expect(204, call{method: "DELETE", path: fmt.Sprintf("/api/v1/allowlist/%d/%s", acme.ID, url.PathEscape("A/2")), token: op}, nil)
	if ok, _ := e.store.Allowed(ctx, acme.ID, "A/2"); ok {
		t.Error("A/2 still allowed after DELETE")
	}

	// Pledges arrive through the BRSKI flow; here, through the store.
	var ids []int64
	for _, serial := range []string{"A-1", "A-2", "A-3", "A-4"} {
		p, err := e.store.Touch(ctx, acme.ID, serial, []byte("idevid "+serial))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	p1 := ids[0]
	if _, err := e.store.RecordExchange(ctx, store.Exchange{PledgeID: p1, PledgeRequest: []byte("pvr"), RegistrarRequest: []byte("rvr"),
		Voucher: []byte("voucher"), Nonce: "n", Outcome: store.OutcomeIssued, MASAStatus: 200, Replica: "r1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.RecordExchange(ctx, store.Exchange{PledgeID: p1, PledgeRequest: []byte("pvr"), Outcome: store.OutcomeHeld, Replica: "r1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordTelemetry(ctx, p1, store.TelemetryVoucherStatus, true, "", json.RawMessage(`{"version":1,"status":true}`)); err != nil {
		t.Fatal(err)
	}
	for i, pid := range []int64{p1, p1, ids[1]} {
		if err := e.store.RecordCertificate(ctx, store.Certificate{Serial: fmt.Sprintf("0%d", i), PledgeID: pid, Operation: "simpleenroll",
			Subject: "CN=A-1", NotBefore: testNow, NotAfter: testNow.Add(time.Hour), DER: []byte{1, 2, byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}

	var pp page[store.Pledge]
	e.expect(200, call{method: "GET", path: "/api/v1/pledges?decision=pending&limit=3", token: aud}, &pp)
	if len(pp.Items) != 3 || pp.Next == "" {
		t.Fatalf("pledges page: %+v", pp)
	}
	e.expect(200, call{method: "GET", path: "/api/v1/pledges?decision=pending&limit=3&cursor=" + pp.Next, token: aud}, &pp)
	if len(pp.Items) != 1 || pp.Items[0].Serial != "A-4" {
		t.Errorf("second pledges page: %+v", pp)
	}
	e.expect(200, call{method: "GET", path: fmt.Sprintf("/api/v1/pledges?manufacturer_id=%d&serial_prefix=A-&state=new", acme.ID), token: aud}, &pp)
	if len(pp.Items) != 4 {
		t.Errorf("filtered pledges: %+v", pp)
	}
	var detail struct {
		store.Pledge
		Exchanges    []store.Exchange    `json:"exchanges"`
		Telemetry    []store.Telemetry   `json:"telemetry"`
		Certificates []store.Certificate `json:"certificates"`
	}
	e.expect(200, call{method: "GET", path: fmt.Sprintf("/api/v1/pledges/%d", p1), token: aud}, &detail)
	if detail.Serial != "A-1" || len(detail.Exchanges) != 2 || string(detail.Exchanges[0].Voucher) != "voucher" ||
		len(detail.Telemetry) != 1 || len(detail.Certificates) != 2 {
		t.Errorf("pledge detail: %+v", detail)
	}

	// Decisions (operator): one by one and in bulk.
	var decided store.Pledge
	e.expect(200, call{method: "POST", path: fmt.Sprintf("/api/v1/pledges/%d/approve", p1), token: op}, &decided)
	if decided.Decision != store.DecisionApproved || decided.DecidedBy != pOp.Actor() {
		t.Errorf("approved: %+v", decided)
	}
	e.expect(200, call{method: "POST", path: fmt.Sprintf("/api/v1/pledges/%d/deny", ids[1]), token: adm}, &decided)
	if decided.Decision != store.DecisionDenied || decided.DecidedBy != pAdm.Actor() {
		t.Errorf("denied: %+v", decided)
	}
	var many page[store.Pledge]
	e.expect(200, call{method: "POST", path: "/api/v1/pledges/decisions", token: op, contentType: "application/json",
		body: mustJSON(map[string]any{"ids": ids[2:], "decision": "approved"})}, &many)
	if len(many.Items) != 2 || many.Items[1].ID != ids[3] || many.Items[1].Decision != store.DecisionApproved {
		t.Errorf("bulk: %+v", many)
	}

	// Certificates, per pledge and all.
	var cl page[store.Certificate]
	e.expect(200, call{method: "GET", path: fmt.Sprintf("/api/v1/pledges/%d/certificates", p1), token: aud}, &cl)
	if len(cl.Items) != 2 {
		t.Errorf("pledge certificates: %+v", cl)
	}
	e.expect(200, call{method: "GET", path: "/api/v1/certificates?limit=2", token: aud}, &cl)
	if len(cl.Items) != 2 || cl.Next == "" {
		t.Errorf("certificates page: %+v", cl)
	}
	e.expect(200, call{method: "GET", path: "/api/v1/certificates?cursor=" + cl.Next, token: aud}, &cl)
	if len(cl.Items) != 1 || cl.Items[0].Serial != "02" {
		t.Errorf("last certificates page: %+v", cl)
	}

	// Sessions and replicas, written by the cluster packages.
	if _, err := e.pool.Exec(ctx, `INSERT INTO replicas VALUES ('r1', 'https://10.0.0.1:8444', $1, $1)`, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO atls_cids VALUES ('\x2a', 'r1', $1)`, testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO atls_contexts (recipient_id, sender_id, protocol, tls_suite, aead, hkdf, secret_sealed,
		peer_chain, created_at, expires_at) VALUES ('\x2a', '\x01', 'atls-cose', $1, 1, 'SHA-256', '\x0102', ARRAY[$2::bytea], $3, $4)`,
		int(tls.TLS_AES_256_GCM_SHA384), selfSigned(t, "pledge A-1"), testNow, testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var sp page[store.Context]
	e.expect(200, call{method: "GET", path: "/api/v1/sessions", token: aud}, &sp)
	if len(sp.Items) != 1 || sp.Items[0].RecipientID != "2a" || sp.Items[0].PeerSubject != "CN=pledge A-1" || sp.Items[0].Suite != "TLS_AES_256_GCM_SHA384" {
		t.Errorf("sessions: %+v", sp)
	}
	var rp page[store.Replica]
	e.expect(200, call{method: "GET", path: "/api/v1/replicas", token: aud}, &rp)
	if len(rp.Items) != 1 || rp.Items[0].ID != "r1" {
		t.Errorf("replicas: %+v", rp)
	}

	// Tokens (admin).
	var created struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	e.expect(201, call{method: "POST", path: "/api/v1/tokens", token: adm, contentType: "application/json",
		body: []byte(`{"name": "ci", "role": "auditor"}`)}, &created)
	e.expect(200, call{method: "GET", path: "/api/v1/replicas", token: created.Token}, nil)
	var tl page[store.Token]
	b := e.expect(200, call{method: "GET", path: "/api/v1/tokens", token: adm}, &tl)
	if len(tl.Items) != 5 || strings.Contains(string(b), created.Token) {
		t.Errorf("tokens: %s", b)
	}
	e.expect(204, call{method: "DELETE", path: fmt.Sprintf("/api/v1/tokens/%d", created.ID), token: adm}, nil)
	e.expect(401, call{method: "GET", path: "/api/v1/replicas", token: created.Token}, nil)

	// Deleting a manufacturer: refused while pledges reference it.
	e.expect(409, call{method: "DELETE", path: fmt.Sprintf("/api/v1/manufacturers/%d", acme.ID), token: adm}, nil)
	e.expect(204, call{method: "DELETE", path: fmt.Sprintf("/api/v1/manufacturers/%d", bolt.ID), token: adm}, nil)

	// The audit trail names the token behind every change.
	var evs page[store.Event]
	e.expect(200, call{method: "GET", path: "/api/v1/audit-events?limit=1000", token: aud}, &evs)
	want := []struct{ action, actor string }{
		{"manufacturer.create", pAdm.Actor()}, {"manufacturer.create", pAdm.Actor()}, {"manufacturer.update", pAdm.Actor()},
		{"allowlist.import", pOp.Actor()}, {"allowlist.import", pOp.Actor()}, {"allowlist.delete", pOp.Actor()},
		{"pledge.approve", pOp.Actor()}, {"pledge.deny", pAdm.Actor()}, {"pledge.approve", pOp.Actor()}, {"pledge.approve", pOp.Actor()},
		{"token.create", pAdm.Actor()}, {"token.revoke", pAdm.Actor()}, {"manufacturer.delete", pAdm.Actor()},
	}
	var trail []string
	for i := len(evs.Items) - 1; i >= 0; i-- {
		if ev := evs.Items[i]; ev.Actor != "bootstrap" {
			trail = append(trail, ev.Action+" by "+ev.Actor)
		}
	}
	var wantTrail []string
	for _, w := range want {
		wantTrail = append(wantTrail, w.action+" by "+w.actor)
	}
	if strings.Join(trail, "\n") != strings.Join(wantTrail, "\n") {
		t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(wantTrail, "\n"))
	}
	e.expect(200, call{method: "GET", path: fmt.Sprintf("/api/v1/audit-events?action=pledge.approve&subject=pledge:%d&since=%s&until=%s",
		p1, testNow.Add(-time.Minute).Format(time.RFC3339), testNow.Add(time.Minute).Format(time.RFC3339)), token: aud}, &evs)
	if len(evs.Items) != 1 {
		t.Errorf("filtered events: %+v", evs.Items)
	}

	for _, op := range specOperations(doc) {
		if !sc.Seen(op) {
			t.Errorf("%s was never exercised", op)
		}
	}
}
