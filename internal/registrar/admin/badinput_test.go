package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// fixtures gives an env a manufacturer with a pledge and an allow-list
// entry, so that bad input has something to damage.
func (e *env) fixtures() (manufacturerID, pledgeID int64) {
	e.t.Helper()
	ctx := context.Background()
	m, err := e.store.CreateManufacturer(ctx, store.Manufacturer{Name: "Acme", IDevIDAnchor: selfSigned(e.t, "Acme CA")}, "bootstrap")
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.store.Touch(ctx, m.ID, "A-1", []byte("idevid"))
	if err != nil {
		e.t.Fatal(err)
	}
	rows, _ := store.ParseAllowlistCSV(strings.NewReader("manufacturer,serial,note\nAcme,A-1,\n"))
	if _, err := e.store.ImportAllowlist(ctx, rows, "bootstrap"); err != nil {
		e.t.Fatal(err)
	}
	return m.ID, p.ID
}

// TestBadInputChangesNothing sends every kind of bad request: each gets
// its status as a problem document, and the database is unchanged.
func TestBadInputChangesNothing(t *testing.T) {
	sc, _ := newSpecChecker(t)
	e := newEnv(t, sc, admin.WithBodyLimits(admin.DefaultMaxImport, admin.DefaultMaxBody))
	mid, pid := e.fixtures()
	adm, op, aud := e.tokens[store.RoleAdmin], e.tokens[store.RoleOperator], e.tokens[store.RoleAuditor]
	anchor := base64.StdEncoding.EncodeToString(selfSigned(t, "X CA"))
	big := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	bigCSV := append([]byte("manufacturer,serial,note\n"), bytes.Repeat([]byte("Acme,A-9,padding padding padding padding\n"), (admin.DefaultMaxImport/40)+1)...)
	bigJSON := append([]byte(`{"ids":[`), append(bytes.Repeat([]byte("1,"), admin.DefaultMaxBody/2), []byte(`1],"decision":"approved"}`)...)...)
	approve := fmt.Sprintf("/api/v1/pledges/%d/approve", pid)

	for _, tc := range []struct {
		name   string
		c      call
		status int
		detail string // a substring of the problem's detail
	}{
		// Authentication and roles.
		{"no token", call{method: "GET", path: "/api/v1/pledges"}, 401, "bearer token is required"},
		{"no token on a change", call{method: "POST", path: approve}, 401, "bearer token"},
		{"basic auth", call{method: "POST", path: approve, header: map[string]string{"Authorization": "Basic YTpi"}}, 401, "bearer token"},
		{"empty bearer", call{method: "POST", path: approve, header: map[string]string{"Authorization": "Bearer "}}, 401, "bearer token"},
		{"unknown token", call{method: "POST", path: approve, token: "not-a-token"}, 401, "unknown or revoked"},
		{"revoked token", call{method: "POST", path: approve, token: e.revoked}, 401, "unknown or revoked"},
		{"auditor approves", call{method: "POST", path: approve, token: aud}, 403, "needs operator"},
		{"auditor imports", call{method: "POST", path: "/api/v1/allowlist", token: aud, contentType: "text/csv", body: []byte("manufacturer,serial,note\nAcme,A-2,\n")}, 403, "needs operator"},
		{"operator adds a manufacturer", call{method: "POST", path: "/api/v1/manufacturers", token: op, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": anchor})}, 403, "needs admin"},
		{"operator makes a token", call{method: "POST", path: "/api/v1/tokens", token: op, contentType: "application/json", body: []byte(`{"name":"x","role":"admin"}`)}, 403, "needs admin"},

		// Malformed JSON and values.
		{"truncated JSON", call{method: "POST", path: "/api/v1/pledges/decisions", token: op, contentType: "application/json", body: []byte(`{"ids":[1],`)}, 400, "malformed JSON"},
		{"unknown field", call{method: "POST", path: "/api/v1/pledges/decisions", token: op, contentType: "application/json", body: []byte(`{"ids":[1],"decision":"approved","why":1}`)}, 400, "unknown field"},
		{"two objects", call{method: "POST", path: "/api/v1/tokens", token: adm, contentType: "application/json", body: []byte(`{"name":"x","role":"admin"}{}`)}, 400, "data after"},
		{"pending is no decision", call{method: "POST", path: "/api/v1/pledges/decisions", token: op, contentType: "application/json", body: []byte(`{"ids":[1],"decision":"pending"}`)}, 400, "approved or denied"},
		{"no ids", call{method: "POST", path: "/api/v1/pledges/decisions", token: op, contentType: "application/json", body: []byte(`{"ids":[],"decision":"denied"}`)}, 400, "pledge ids"},
		{"anchor not a certificate", call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": base64.StdEncoding.EncodeToString([]byte("junk"))})}, 400, "not a DER X.509"},
		{"anchor not base64", call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": "%%%"})}, 400, "PEM certificate or base64"},
		{"no anchor", call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json", body: []byte(`{"name":"X"}`)}, 400, "idevid_anchor is required"},
		{"http MASA", call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": anchor, "masa_url": "http://masa"})}, 400, "https"},
		{"wildcard LDevID DNS template", call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": anchor, "ldevid_dns_template": "*.{{.SerialNumber}}.example.net"})}, 400, "wildcards are not allowed"},
		{"constant LDevID DNS name", call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": anchor, "ldevid_dns_template": "registrar.example.net"})}, 400, "gives every device the same name"},
		{"relative LDevID URI template", call{method: "PUT", path: fmt.Sprintf("/api/v1/manufacturers/%d", mid), token: adm, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": anchor, "ldevid_uri_template": "dev/{{.SerialNumber}}"})}, 400, "not an absolute URI"},
		{"unknown role", call{method: "POST", path: "/api/v1/tokens", token: adm, contentType: "application/json", body: []byte(`{"name":"x","role":"root"}`)}, 400, "role must be"},

		// Bad path and query parameters.
		{"id not a number", call{method: "POST", path: "/api/v1/pledges/abc/approve", token: op}, 400, "positive integer"},
		{"id zero", call{method: "GET", path: "/api/v1/pledges/0", token: aud}, 400, "positive integer"},
		{"unknown decision filter", call{method: "GET", path: "/api/v1/pledges?decision=maybe", token: aud}, 400, "unknown decision"},
		{"unknown query parameter", call{method: "GET", path: "/api/v1/pledges?decison=approved", token: aud}, 400, `unknown query parameter "decison"`},
		{"repeated query parameter", call{method: "GET", path: "/api/v1/pledges?state=new&state=enrolled", token: aud}, 400, "more than once"},
		{"limit too large", call{method: "GET", path: "/api/v1/certificates?limit=5000", token: aud}, 400, "limit"},
		{"limit not a number", call{method: "GET", path: "/api/v1/sessions?limit=ten", token: aud}, 400, "limit"},
		{"forged cursor", call{method: "GET", path: "/api/v1/allowlist?cursor=AAAA", token: aud}, 400, "cursor"},
		{"bad time", call{method: "GET", path: "/api/v1/audit-events?since=yesterday", token: aud}, 400, "RFC 3339"},

		// Unknown objects.
		{"approve unknown pledge", call{method: "POST", path: "/api/v1/pledges/999999/approve", token: op}, 404, "pledge 999999 not found"},
		{"bulk with an unknown pledge", call{method: "POST", path: "/api/v1/pledges/decisions", token: op, contentType: "application/json",
			body: mustJSON(map[string]any{"ids": []int64{pid, 777}, "decision": "denied"})}, 404, "pledge 777 not found"},
		{"get unknown pledge", call{method: "GET", path: "/api/v1/pledges/999999", token: aud}, 404, "not found"},
		{"certificates of unknown pledge", call{method: "GET", path: "/api/v1/pledges/999999/certificates", token: aud}, 404, "not found"},
		{"update unknown manufacturer", call{method: "PUT", path: "/api/v1/manufacturers/999", token: adm, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": anchor})}, 404, "manufacturer 999"},
		{"delete unknown manufacturer", call{method: "DELETE", path: "/api/v1/manufacturers/999", token: adm}, 404, "manufacturer 999"},
		{"delete unlisted serial", call{method: "DELETE", path: fmt.Sprintf("/api/v1/allowlist/%d/NOPE", mid), token: op}, 404, "not found"},
		{"revoke unknown token", call{method: "DELETE", path: "/api/v1/tokens/999", token: adm}, 404, "token 999"},
		{"unknown endpoint", call{method: "GET", path: "/api/v1/nothing", token: adm}, 404, "no such endpoint"},
		{"wrong method", call{method: "PATCH", path: "/api/v1/pledges", token: adm}, 405, "not allowed"},

		// Conflicts.
		{"manufacturer name taken", call{method: "POST", path: "/api/v1/manufacturers", token: adm, contentType: "application/json",
			body: mustJSON(map[string]any{"name": "Acme", "idevid_anchor": anchor})}, 409, "already exists"},
		{"manufacturer with pledges", call{method: "DELETE", path: fmt.Sprintf("/api/v1/manufacturers/%d", mid), token: adm}, 409, "has pledges"},

		// Imports.
		{"CSV with a bad row", call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "text/csv",
			body: []byte("manufacturer,serial,note\nAcme,A-2,ok\nAcme,,empty\n")}, 422, "1 row(s) rejected"},
		{"CSV with the wrong header", call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "text/csv", body: []byte("serial\nA-2\n")}, 400, "header"},
		{"JSON import of version 2", call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "application/json",
			body: []byte(`{"version":2,"entries":[{"manufacturer":"Acme","serial":"A-2"}]}`)}, 400, "version"},

		// Sizes and media types.
		{"import over 1 MiB", call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "text/csv", body: bigCSV}, 413, "1048576"},
		{"import over 1 MiB, chunked", call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "text/csv", body: bigCSV, chunked: true}, 413, "1048576"},
		{"JSON over 64 KiB", call{method: "POST", path: "/api/v1/pledges/decisions", token: op, contentType: "application/json", body: bigJSON}, 413, "65536"},
		{"JSON over 64 KiB, chunked", call{method: "POST", path: "/api/v1/tokens", token: adm, contentType: "application/json",
			body: append(append([]byte(`{"name":"`), big(70<<10)...), `","role":"admin"}`...), chunked: true}, 413, "65536"},
		{"body on approve over 64 KiB", call{method: "POST", path: approve, token: op, contentType: "application/json", body: big(65 << 10)}, 413, "65536"},
		{"decisions as text", call{method: "POST", path: "/api/v1/pledges/decisions", token: op, contentType: "text/plain", body: []byte(`{"ids":[1],"decision":"approved"}`)}, 415, "application/json"},
		{"manufacturer without Content-Type", call{method: "POST", path: "/api/v1/manufacturers", token: adm,
			body: mustJSON(map[string]any{"name": "X", "idevid_anchor": anchor})}, 415, "application/json"},
		{"import as XML", call{method: "POST", path: "/api/v1/allowlist", token: op, contentType: "application/xml", body: []byte("<a/>")}, 415, "text/csv or application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot()
			resp, b := e.do(tc.c)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			var p problem
			if err := json.Unmarshal(b, &p); err != nil || p.Status != tc.status || !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("problem %+v (%v), want detail containing %q", p, err, tc.detail)
			}
			if tc.status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
			if after := e.snapshot(); after != before {
				t.Errorf("the database changed:\n%s\n%s", before, after)
			}
		})
	}
}

// TestRolesBelowNeedAreRefused tries every /api/v1 route with each role
// below the one it needs: 403, and nothing changes.
func TestRolesBelowNeedAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	mid, pid := e.fixtures()
	routes := []struct {
		method, path, ct, body string
		need                   store.Role
	}{
		{"POST", fmt.Sprintf("/api/v1/pledges/%d/approve", pid), "", "", store.RoleOperator},
		{"POST", fmt.Sprintf("/api/v1/pledges/%d/deny", pid), "", "", store.RoleOperator},
		{"POST", "/api/v1/pledges/decisions", "application/json", fmt.Sprintf(`{"ids":[%d],"decision":"denied"}`, pid), store.RoleOperator},
		{"POST", "/api/v1/allowlist", "text/csv", "manufacturer,serial,note\nAcme,A-7,\n", store.RoleOperator},
		{"DELETE", fmt.Sprintf("/api/v1/allowlist/%d/A-1", mid), "", "", store.RoleOperator},
		{"POST", "/api/v1/manufacturers", "application/json", `{"name":"Z","idevid_anchor":"` + base64.StdEncoding.EncodeToString(selfSigned(t, "Z")) + `"}`, store.RoleAdmin},
		{"PUT", fmt.Sprintf("/api/v1/manufacturers/%d", mid), "application/json", `{"name":"Z","idevid_anchor":"` + base64.StdEncoding.EncodeToString(selfSigned(t, "Z")) + `"}`, store.RoleAdmin},
		{"DELETE", fmt.Sprintf("/api/v1/manufacturers/%d", mid), "", "", store.RoleAdmin},
		{"GET", "/api/v1/tokens", "", "", store.RoleAdmin},
		{"POST", "/api/v1/tokens", "application/json", `{"name":"x","role":"admin"}`, store.RoleAdmin},
		{"DELETE", "/api/v1/tokens/1", "", "", store.RoleAdmin},
	}
	for _, r := range routes {
		for _, role := range []store.Role{store.RoleAuditor, store.RoleOperator} {
			if role.Includes(r.need) {
				continue
			}
			before := e.snapshot()
			resp, b := e.do(call{method: r.method, path: r.path, token: e.tokens[role], contentType: r.ct, body: []byte(r.body)})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d, want 403: %s", r.method, r.path, role, resp.StatusCode, b)
			}
			if e.snapshot() != before {
				t.Errorf("%s %s as %s changed the database", r.method, r.path, role)
			}
		}
	}
	// Every read is open to auditors.
	for _, path := range []string{"/api/v1/pledges", fmt.Sprintf("/api/v1/pledges/%d", pid), fmt.Sprintf("/api/v1/pledges/%d/certificates", pid),
		"/api/v1/manufacturers", fmt.Sprintf("/api/v1/manufacturers/%d", mid), "/api/v1/allowlist", "/api/v1/certificates",
		"/api/v1/sessions", "/api/v1/replicas", "/api/v1/audit-events"} {
		if resp, b := e.do(call{method: "GET", path: path, token: e.tokens[store.RoleAuditor]}); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s as auditor: %d: %s", path, resp.StatusCode, b)
		}
	}
}
