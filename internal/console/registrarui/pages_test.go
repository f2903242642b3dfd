package registrarui_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/internal/testkit"
)

// manyPledges inserts n pending pledges of manufacturer mid in one
// statement (the store has no bulk insert; devices arrive one by one).
func manyPledges(t *testing.T, db sqldb.DB, mid int64, n int) {
	t.Helper()
	q := sqldb.Pick(db,
		`INSERT INTO pledges (manufacturer_id, serial, idevid) SELECT $1, 'BULK-' || lpad(i::text, 5, '0'), '\x00'::bytea FROM generate_series(1, $2) i`,
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
		 INSERT INTO pledges (manufacturer_id, serial, idevid) SELECT $1, 'BULK-' || substr('0000' || i, -5), x'00' FROM n`)
	if _, err := db.Exec(context.Background(), q, mid, n); err != nil {
		t.Fatal(err)
	}
}

var pledgeRowRE = regexp.MustCompile(`<tr id="pledge-(\d+)" data-serial="([^"]+)"`)

// TestPages renders every page on each backend, pages through 10 000
// pending pledges 50 at a time (keyset paging: each page starts after the
// last one's final id), and shows the chart's counts.
func TestPages(t *testing.T) { testkit.EachBackend(t, tPages) }

func tPages(t *testing.T, b testkit.Backend) {
	e := newEnv(t, b)
	ctx := context.Background()
	m, err := e.store.CreateManufacturer(ctx, store.Manufacturer{Name: "Acme", IDevIDAnchor: testkit.SelfSignedCA(t, "Acme CA", testNow)}, "bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	manyPledges(t, e.db, m.ID, 10000)
	p, err := e.store.FindPledge(ctx, m.ID, "BULK-00001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.RecordExchange(ctx, store.Exchange{PledgeID: p.ID, PledgeRequest: []byte("pvr"), Outcome: store.OutcomeDenied, Reason: "denied by an operator", Replica: "r1"}); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(store.RoleAdmin)

	seen := map[string]bool{}
	path := "/console/pledges"
	for page := 0; page < 3; page++ {
		body := c.get(path, 200)
		rows := pledgeRowRE.FindAllStringSubmatch(body, -1)
		if len(rows) != 50 {
			t.Fatalf("page %d has %d rows, want 50", page, len(rows))
		}
		for _, r := range rows {
			if seen[r[2]] {
				t.Fatalf("page %d repeats %s", page, r[2])
			}
			seen[r[2]] = true
		}
		if want := fmt.Sprintf("BULK-%05d", page*50+1); rows[0][2] != want {
			t.Errorf("page %d starts at %s, want %s", page, rows[0][2], want)
		}
		next := regexp.MustCompile(`id="next-page" href="([^"]+)"`).FindStringSubmatch(body)
		if next == nil {
			t.Fatalf("page %d has no next link", page)
		}
		path = strings.ReplaceAll(next[1], "&amp;", "&")
	}
	// A page deep in the list costs what the first does: the cursor is a
	// position in the index, not an offset. Logged, not asserted.
	cursor := ""
	for range 9 {
		pg, err := e.store.ListPledges(ctx, store.PledgeFilter{Decision: store.DecisionPending, Limit: 1000, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		cursor = pg.Next
	}
	for _, path := range []string{"/console/pledges", "/console/pledges?cursor=" + cursor} {
		start := time.Now()
		body := c.get(path, 200)
		t.Logf("%s: %d rows in %v", path, len(pledgeRowRE.FindAllString(body, -1)), time.Since(start))
	}
	if body := c.get("/console/pledges?cursor="+cursor, 200); !strings.Contains(body, `data-serial="BULK-09001"`) {
		t.Errorf("the page after 9000 pledges does not start at BULK-09001")
	}
	if body := c.get("/console/pledges?decision=&serial_prefix=BULK-0999", 200); len(pledgeRowRE.FindAllString(body, -1)) != 10 || strings.Contains(body, "next-page") {
		t.Errorf("the serial prefix BULK-0999 does not list exactly 10 pledges on one page")
	}
	for path, want := range map[string]string{
		"/console/":                              `id="pending-count">10+<`,
		fmt.Sprintf("/console/pledges/%d", p.ID): "denied by an operator",
		"/console/manufacturers":                 "CN=Acme CA",
		"/console/allowlist":                     `id="import"`,
		"/console/live":                          `id="atls-sessions">3<`,
		"/console/tokens":                        "operator-token",
	} {
		if body := c.get(path, 200); !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", path, want)
		}
	}
	if body := c.get("/console/", 200); !strings.Contains(body, `<svg class="chart"`) || !strings.Contains(body, `id="failed-count">1<`) {
		t.Errorf("overview lacks the chart or its failure count")
	}
	for path, status := range map[string]int{"/console/pledges/0": 400, "/console/pledges/99999": 404, "/console/pledges?cursor=AAAA": 400,
		"/console/pledges?decision=maybe": 400, "/console/nothing": 404, "/console/pledges?x=1": 400} {
		c.get(path, status)
	}
}

// TestRefusals: every refused change answers its status with a reason and
// leaves the database as it was.
func TestRefusals(t *testing.T) { testkit.EachBackend(t, tRefusals) }

func tRefusals(t *testing.T, b testkit.Backend) {
	e := newEnv(t, b)
	ctx := context.Background()
	m, err := e.store.CreateManufacturer(ctx, store.Manufacturer{Name: "Acme", IDevIDAnchor: testkit.SelfSignedCA(t, "Acme CA", testNow)}, "bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.store.Touch(ctx, m.ID, "A-1", []byte("idevid"))
	if err != nil {
		t.Fatal(err)
	}
	aud, op, adm := e.signIn(store.RoleAuditor), e.signIn(store.RoleOperator), e.signIn(store.RoleAdmin)
	approve := fmt.Sprintf("/console/pledges/%d/approve", p.ID)
	if body := aud.get("/console/pledges", 200); strings.Contains(body, "approve-") || strings.Contains(body, "bulk-approve") {
		t.Error("an auditor is shown approve buttons")
	}
	if body := op.get("/console/pledges", 200); !strings.Contains(body, fmt.Sprintf(`id="approve-%d"`, p.ID)) {
		t.Error("an operator is not shown the approve button")
	}
	for _, tc := range []struct {
		name   string
		c      *client
		path   string
		form   url.Values
		csrf   bool
		status int
		reason string
	}{
		{"auditor approves", aud, approve, url.Values{}, true, 403, "role auditor may not do this; it needs operator"},
		{"auditor decides in bulk", aud, "/console/pledges/decisions", url.Values{"ids": {fmt.Sprint(p.ID)}, "decision": {"approved"}}, true, 403, "needs operator"},
		{"auditor imports", aud, "/console/allowlist", url.Values{"csv_text": {"manufacturer,serial,note\nAcme,A-2,\n"}}, true, 403, "needs operator"},
		{"operator adds a manufacturer", op, "/console/manufacturers", url.Values{"name": {"X"}}, true, 403, "needs admin"},
		{"operator makes a token", op, "/console/tokens", url.Values{"name": {"x"}, "role": {"admin"}}, true, 403, "needs admin"},
		{"approve without CSRF", op, approve, url.Values{}, false, 403, "CSRF token"},
		{"approve with another session's CSRF", op, approve, url.Values{"csrf": {adm.csrf}}, false, 403, "CSRF token"},
		{"bulk without CSRF", op, "/console/pledges/decisions", url.Values{"ids": {fmt.Sprint(p.ID)}, "decision": {"approved"}}, false, 403, "CSRF token"},
		{"sign out without CSRF", op, "/console/signout", url.Values{}, false, 403, "CSRF token"},
		{"approve unknown pledge", op, "/console/pledges/999/approve", url.Values{}, true, 404, "pledge 999 not found"},
		{"approve id zero", op, "/console/pledges/0/approve", url.Values{}, true, 400, "positive integer"},
		{"bulk with an unknown pledge", op, "/console/pledges/decisions", url.Values{"ids": {fmt.Sprint(p.ID), "777"}, "decision": {"approved"}}, true, 404, "pledge 777 not found"},
		{"bulk with nothing selected", op, "/console/pledges/decisions", url.Values{"decision": {"approved"}}, true, 400, "select the pledges"},
		{"bulk with a bad id", op, "/console/pledges/decisions", url.Values{"ids": {"x"}, "decision": {"denied"}}, true, 400, "not a positive integer"},
		{"bulk pending is no decision", op, "/console/pledges/decisions", url.Values{"ids": {fmt.Sprint(p.ID)}, "decision": {"pending"}}, true, 400, "approved or denied"},
		{"import with a bad row", op, "/console/allowlist", url.Values{"csv_text": {"manufacturer,serial,note\nAcme,A-2,ok\nAcme,,empty\nNobody,A-3,\n"}}, true, 422, "2 row(s) rejected"},
		{"import with the wrong header", op, "/console/allowlist", url.Values{"csv_text": {"serial\nA-2\n"}}, true, 400, "header"},
		{"import of nothing", op, "/console/allowlist", url.Values{}, true, 400, "choose a CSV file"},
		{"manufacturer without anchor", adm, "/console/manufacturers", url.Values{"name": {"X"}}, true, 400, "idevid_anchor is required"},
		{"manufacturer with a junk anchor", adm, "/console/manufacturers", url.Values{"name": {"X"}, "idevid_anchor_text": {"%%%"}}, true, 400, "PEM certificate or base64"},
		{"manufacturer name taken", adm, "/console/manufacturers", url.Values{"name": {"Acme"}, "idevid_anchor_text": {pemCert(testkit.SelfSignedCA(t, "Y", testNow))}}, true, 409, "already exists"},
		{"remove a manufacturer with pledges", adm, fmt.Sprintf("/console/manufacturers/%d/delete", m.ID), url.Values{}, true, 409, "has pledges"},
		{"token with an unknown role", adm, "/console/tokens", url.Values{"name": {"x"}, "role": {"root"}}, true, 400, "role must be"},
		{"revoke unknown token", adm, "/console/tokens/999/revoke", url.Values{}, true, 404, "token 999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			status, body := tc.c.post(tc.path, tc.form, tc.csrf)
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Errorf("%d, want %d with %q: %s", status, tc.status, tc.reason, pageDetail(body))
			}
			if after := e.snapshot(); after != before {
				t.Errorf("the database changed:\n%s\n%s", before, after)
			}
		})
	}
	if body := op.get("/console/tokens", 403); !strings.Contains(body, "needs admin") {
		t.Error("an operator's tokens page does not say why it is refused")
	}
	// The refused import shows its rows.
	_, body := op.post("/console/allowlist", url.Values{"csv_text": {"manufacturer,serial,note\nAcme,A-2,ok\nAcme,,empty\n"}}, true)
	if !strings.Contains(body, `<td class="num">3</td>`) {
		t.Errorf("the rejected row's line is not shown: %s", pageDetail(body))
	}
	// What the refusals did not change still works for the right role.
	if status, _ := op.post(approve, url.Values{}, true); status != 303 {
		t.Fatalf("operator's approval: %d", status)
	}
	if got, _ := e.store.GetPledge(ctx, p.ID); got.Decision != store.DecisionApproved || got.DecidedBy != "token:2:operator-token" {
		t.Errorf("after approval: %+v", got)
	}
	// A revoked token's session ends at once.
	pr, _ := e.store.Authenticate(ctx, e.tokens[store.RoleOperator])
	if err := e.store.RevokeToken(ctx, pr.TokenID, "bootstrap"); err != nil {
		t.Fatal(err)
	}
	if status, _ := op.post(fmt.Sprintf("/console/pledges/%d/deny", p.ID), url.Values{}, true); status != 401 {
		t.Errorf("a revoked token's session denied: %d", status)
	}
}

// pageDetail is the error page's reason, or the page.
func pageDetail(body string) string {
	if m := regexp.MustCompile(`id="error-detail">([^<]*)<`).FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return body
}

func pemCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
