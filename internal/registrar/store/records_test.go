package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
)

func TestExchangesTelemetryCertificates(t *testing.T) {
	testkit.EachBackend(t, tExchangesTelemetryCertificates)
}

func tExchangesTelemetryCertificates(t *testing.T, backend testkit.Backend) {
	s, pool, clk := newStore(t, backend)
	ctx := context.Background()
	acme := mustManufacturer(t, s, "Acme")
	p, q := mustPledge(t, s, acme.ID, "A-1"), mustPledge(t, s, acme.ID, "A-2")

	held := store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("pvr"), Nonce: "n1", Outcome: store.OutcomeHeld, Reason: "pending approval", Replica: "r1"}
	if _, err := s.RecordExchange(ctx, held); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	issued := store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("pvr"), RegistrarRequest: []byte("rvr"), Voucher: []byte("v"),
		Nonce: "n1", Outcome: store.OutcomeIssued, MASAStatus: 200, Replica: "r2"}
	if _, err := s.RecordExchange(ctx, issued); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		e    store.Exchange
		want error
	}{
		{store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("x"), Outcome: "great", Replica: "r1"}, store.ErrInvalid},
		{store.Exchange{PledgeID: p.ID, Outcome: store.OutcomeRejected, Replica: "r1"}, store.ErrInvalid},
		{store.Exchange{PledgeID: 999, PledgeRequest: []byte("x"), Outcome: store.OutcomeRejected, Replica: "r1"}, store.ErrNotFound},
	} {
		if _, err := s.RecordExchange(ctx, tc.e); !errors.Is(err, tc.want) {
			t.Errorf("RecordExchange(%+v): %v, want %v", tc.e, err, tc.want)
		}
	}
	es, err := s.ListExchanges(ctx, p.ID)
	if err != nil || len(es) != 2 {
		t.Fatalf("exchanges: %+v %v", es, err)
	}
	if es[0].Outcome != store.OutcomeHeld || es[0].MASAStatus != 0 || es[0].Voucher != nil || es[0].Reason != "pending approval" ||
		es[1].MASAStatus != 200 || string(es[1].Voucher) != "v" || es[1].Replica != "r2" {
		t.Errorf("exchanges read back: %+v", es)
	}
	if es, _ := s.ListExchanges(ctx, q.ID); len(es) != 0 || es == nil {
		t.Errorf("q's exchanges: %#v", es)
	}

	body := json.RawMessage(`{"version":1,"status":false,"reason":"bad voucher"}`)
	if err := s.RecordTelemetry(ctx, p.ID, store.TelemetryVoucherStatus, false, "bad voucher", body); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pledge int64
		kind   string
		body   string
		want   error
	}{
		{p.ID, "weather", `{}`, store.ErrInvalid},
		{p.ID, store.TelemetryEnrollStatus, `{`, store.ErrInvalid},
		{999, store.TelemetryEnrollStatus, `{}`, store.ErrNotFound},
	} {
		if err := s.RecordTelemetry(ctx, tc.pledge, tc.kind, true, "", json.RawMessage(tc.body)); !errors.Is(err, tc.want) {
			t.Errorf("RecordTelemetry(%d, %s, %s): %v, want %v", tc.pledge, tc.kind, tc.body, err, tc.want)
		}
	}
	ts, err := s.ListTelemetry(ctx, p.ID)
	if err != nil || len(ts) != 1 || ts[0].Status || ts[0].Kind != "voucher-status" {
		t.Fatalf("telemetry: %+v %v", ts, err)
	}
	var round map[string]any
	if err := json.Unmarshal(ts[0].Body, &round); err != nil || round["reason"] != "bad voucher" {
		t.Errorf("telemetry body: %s", ts[0].Body)
	}

	// Certificates: idempotent on serial, listed per pledge and in pages.
	for i := range 5 {
		clk.Advance(time.Second)
		owner := p.ID
		if i%2 == 1 {
			owner = q.ID
		}
		c := store.Certificate{Serial: fmt.Sprintf("0%d", i), PledgeID: owner, Operation: "simpleenroll", Subject: "CN=x",
			NotBefore: testStart, NotAfter: testStart.Add(365 * 24 * time.Hour), DER: []byte{byte(i)}}
		for range 2 {
			if err := s.RecordCertificate(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := testkit.Count(t, pool, "certificates"); n != 5 {
		t.Errorf("%d certificates, want 5", n)
	}
	if err := s.RecordCertificate(ctx, store.Certificate{Serial: "99", PledgeID: 999, Operation: "simpleenroll", DER: []byte{1}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("certificate for unknown pledge: %v", err)
	}
	if err := s.RecordCertificate(ctx, store.Certificate{PledgeID: p.ID}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty certificate: %v", err)
	}
	cs, err := s.ListCertificates(ctx, p.ID)
	if err != nil || len(cs) != 3 || cs[0].Serial != "00" || cs[2].Serial != "04" || !cs[0].NotBefore.Equal(testStart) {
		t.Errorf("p's certificates: %+v %v", cs, err)
	}
	var all []string
	f := store.CertificateFilter{Limit: 2}
	for {
		page, err := s.AllCertificates(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Items {
			all = append(all, c.Serial)
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	if fmt.Sprint(all) != "[00 01 02 03 04]" {
		t.Errorf("all certificates paged: %v", all)
	}
}

func TestTokens(t *testing.T) { testkit.EachBackend(t, tTokens) }

func tTokens(t *testing.T, backend testkit.Backend) {
	s, pool, _ := newStore(t, backend)
	ctx := context.Background()
	tok, err := s.CreateToken(ctx, "olga", store.RoleOperator, "bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 { // 32 bytes, base64url without padding
		t.Errorf("token %q has %d characters", tok, len(tok))
	}
	var stored []byte
	if err := pool.QueryRow(ctx, `SELECT token_hash FROM admin_tokens`).Scan(&stored); err != nil || len(stored) != 32 || string(stored) == tok {
		t.Errorf("stored hash %x: %v", stored, err)
	}
	p, err := s.Authenticate(ctx, tok)
	if err != nil || p.Name != "olga" || p.Role != store.RoleOperator || p.Actor() != fmt.Sprintf("token:%d:olga", p.TokenID) {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	for _, bad := range []string{"", "nope", tok + "x"} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, store.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q): %v", bad, err)
		}
	}
	for _, tc := range []struct {
		name string
		role store.Role
	}{{"", store.RoleAdmin}, {"x", "root"}} {
		if _, err := s.CreateToken(ctx, tc.name, tc.role, "bootstrap"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateToken(%q, %q): %v", tc.name, tc.role, err)
		}
	}
	if err := s.RevokeToken(ctx, p.TokenID, "bootstrap"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok); !errors.Is(err, store.ErrUnauthenticated) {
		t.Errorf("revoked token authenticates: %v", err)
	}
	if err := s.RevokeToken(ctx, p.TokenID, "bootstrap"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("revoke twice: %v", err)
	}
	if err := s.RevokeToken(ctx, 999, "bootstrap"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 1 || list[0].RevokedAt == nil || list[0].Role != store.RoleOperator {
		t.Errorf("list: %+v %v", list, err)
	}

	for _, tc := range []struct {
		have, need store.Role
		want       bool
	}{
		{store.RoleAdmin, store.RoleOperator, true}, {store.RoleOperator, store.RoleOperator, true},
		{store.RoleOperator, store.RoleAuditor, true}, {store.RoleAuditor, store.RoleOperator, false},
		{store.RoleOperator, store.RoleAdmin, false}, {"root", store.RoleAuditor, false}, {store.RoleAdmin, "root", false},
	} {
		if got := tc.have.Includes(tc.need); got != tc.want {
			t.Errorf("%s.Includes(%s) = %v", tc.have, tc.need, got)
		}
	}
}

func TestAudit(t *testing.T) { testkit.EachBackend(t, tAudit) }

func tAudit(t *testing.T, backend testkit.Backend) {
	s, _, clk := newStore(t, backend)
	ctx := context.Background()
	for i := range 6 {
		action := "pledge.approve"
		if i%2 == 1 {
			action = "allowlist.import"
		}
		if err := s.Append(ctx, store.Event{Actor: "a", Action: action, Subject: fmt.Sprintf("pledge:%d", i%3), Detail: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	if err := s.Append(ctx, store.Event{Action: "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("event without actor: %v", err)
	}
	for _, tc := range []struct {
		name string
		f    store.EventFilter
		want string // the "i" of each event, newest first
	}{
		{"all", store.EventFilter{}, "[5 4 3 2 1 0]"},
		{"action", store.EventFilter{Action: "allowlist.import"}, "[5 3 1]"},
		{"subject", store.EventFilter{Subject: "pledge:0"}, "[3 0]"},
		{"range", store.EventFilter{Since: testStart.Add(2 * time.Minute), Until: testStart.Add(4 * time.Minute)}, "[3 2]"},
		{"paged", store.EventFilter{Limit: 4}, "[5 4 3 2 1 0]"},
	} {
		var got []any
		f := tc.f
		for {
			p, err := s.ListEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range p.Items {
				got = append(got, ev.Detail["i"])
			}
			if p.Next == "" {
				break
			}
			f.Cursor = p.Next
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
}

// RecordEnrollment writes the certificate and the pledge's state together:
// both or neither.
func TestRecordEnrollment(t *testing.T) { testkit.EachBackend(t, tRecordEnrollment) }

func tRecordEnrollment(t *testing.T, backend testkit.Backend) {
	s, db, _ := newStore(t, backend)
	ctx := context.Background()
	m := mustManufacturer(t, s, "Acme")
	p := mustPledge(t, s, m.ID, "E-1")
	c := store.Certificate{Serial: "e1", PledgeID: p.ID, Operation: "simpleenroll", Subject: "CN=E-1",
		NotBefore: testStart, NotAfter: testStart.Add(time.Hour), DER: []byte{1, 2}}
	for range 2 { // a retried enrollment records nothing twice
		if err := s.RecordEnrollment(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetPledge(ctx, p.ID)
	if err != nil || got.State != store.StateEnrolled || testkit.Count(t, db, "certificates") != 1 {
		t.Fatalf("after RecordEnrollment: %+v %v, %d certificates", got, err, testkit.Count(t, db, "certificates"))
	}
	c.Serial, c.PledgeID = "e2", 999
	if err := s.RecordEnrollment(ctx, c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown pledge: %v", err)
	}
	if n := testkit.Count(t, db, "certificates"); n != 1 {
		t.Fatalf("a refused enrollment left %d certificates", n)
	}
}

func TestRecordIssued(t *testing.T) { testkit.EachBackend(t, tRecordIssued) }

func tRecordIssued(t *testing.T, backend testkit.Backend) {
	s, _, _ := newStore(t, backend)
	ctx := context.Background()
	acme := mustManufacturer(t, s, "Acme")
	p := mustPledge(t, s, acme.ID, "I-1")
	issued := store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("pvr"), RegistrarRequest: []byte("rvr"), Voucher: []byte("v"),
		Nonce: "n1", Outcome: store.OutcomeIssued, MASAStatus: 200, Replica: "r1", IDevIDSHA256: []byte{1, 2}}
	id, err := s.RecordIssued(ctx, issued)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LatestExchange(ctx, p.ID)
	if err != nil || got.ID != id || got.Outcome != store.OutcomeIssued || string(got.Voucher) != "v" || got.MASAStatus != 200 {
		t.Errorf("latest exchange: %+v %v", got, err)
	}
	if g, err := s.GetPledge(ctx, p.ID); err != nil || g.State != store.StateVoucherIssued {
		t.Errorf("pledge after RecordIssued: %+v %v", g, err)
	}
	if _, err := s.RecordIssued(ctx, store.Exchange{PledgeID: 999, PledgeRequest: []byte("x"), Outcome: store.OutcomeIssued, Replica: "r1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown pledge: %v", err)
	}
	if _, err := s.RecordIssued(ctx, store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("x"), Outcome: store.OutcomeRejected, Replica: "r1"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("rejected outcome: %v", err)
	}
	if es, _ := s.ListExchanges(ctx, p.ID); len(es) != 1 {
		t.Errorf("exchanges: %+v", es)
	}
}
