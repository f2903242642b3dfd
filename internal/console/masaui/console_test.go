package masaui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/testkit"
)

// TestMintAndImport: a factory token mints a device from its CSR (the
// page then shows its IDevID, the audit trail names the token) and
// imports devices; an import with one bad row shows every rejected row
// and stores nothing.
func TestMintAndImport(t *testing.T) { testkit.EachBackend(t, tMintAndImport) }

func tMintAndImport(t *testing.T, b testkit.Backend) {
	e := newEnv(t, b)
	c := e.signIn(masa.RoleFactory)
	page := c.get("/console/devices", http.StatusOK)
	for _, id := range []string{`id="mint"`, `id="import"`} {
		if !strings.Contains(page, id) {
			t.Fatalf("factory's devices page lacks %s", id)
		}
	}

	resp, body := c.post("/console/devices/mint", url.Values{"csr": {csrPEM(t, "FAB-0001")}, "product": {"widget"}})
	wantStatus(t, "mint", resp, body, http.StatusSeeOther, "/console/devices/FAB-0001")
	rec, ok := e.device("FAB-0001")
	if !ok || rec.Product != "widget" || len(rec.IDevID) == 0 || rec.Status != masa.DeviceActive {
		t.Fatalf("minted device: %+v, %v", rec, ok)
	}
	page = c.get("/console/devices/FAB-0001", http.StatusOK)
	if !strings.Contains(page, "Minted the IDevID of FAB-0001.") {
		t.Error("device page after minting lacks the flash")
	}
	i := strings.Index(page, `id="idevid-pem">`)
	if i < 0 {
		t.Fatal("device page shows no IDevID")
	}
	cert := parseCert(t, page[i+len(`id="idevid-pem">`):])
	if cert.Subject.SerialNumber != "FAB-0001" || !strings.EqualFold(string(cert.Raw), string(rec.IDevID)) {
		t.Errorf("shown IDevID %q is not the stored one", cert.Subject)
	}
	es, err := e.svc.Store().ListEvents(context.Background(), masa.EventFilter{SerialNumber: "FAB-0001", Limit: 10})
	if err != nil || len(es) != 1 || es[0].Action != "idevid.issue" || es[0].Actor != e.actor(masa.RoleFactory) {
		t.Fatalf("audit events of the mint: %+v, %v", es, err)
	}

	// A CSR by file upload, its serial given in the form.
	resp, body = c.upload("/console/devices/mint", map[string]string{"serial_number": "FAB-0002"}, map[string]string{"csr_file": csrPEM(t, "")})
	wantStatus(t, "mint by upload", resp, body, http.StatusSeeOther, "/console/devices/FAB-0002")

	// Refused mints change nothing: a duplicate (409), a CSR naming
	// another serial (422), text that is no CSR (400), none at all (400).
	before := e.state()
	for _, tc := range []struct {
		form url.Values
		want int
	}{
		{url.Values{"csr": {csrPEM(t, "FAB-0001")}}, http.StatusConflict},
		{url.Values{"csr": {csrPEM(t, "FAB-0009")}, "serial_number": {"FAB-0010"}}, http.StatusUnprocessableEntity},
		{url.Values{"csr": {"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}}, http.StatusBadRequest},
		{url.Values{"csr": {" "}}, http.StatusBadRequest},
	} {
		resp, body := c.post("/console/devices/mint", tc.form)
		wantStatus(t, fmt.Sprintf("mint %v", tc.form), resp, body, tc.want, "")
		if !strings.Contains(body, `id="error-detail"`) {
			t.Errorf("refused mint (%d) shows no reason: %s", tc.want, body)
		}
	}
	if got := e.state(); got != before {
		t.Fatalf("refused mints changed the database:\n%s\n%s", before, got)
	}

	// Imports: CSV pasted, JSON uploaded.
	resp, body = c.upload("/console/devices/import", map[string]string{"format": "csv", "text": "serial-number,product,idevid\nIMP-0001,gadget,\nIMP-0002,gadget,\n"}, nil)
	wantStatus(t, "CSV import", resp, body, http.StatusSeeOther, "/console/devices")
	if page := c.get("/console/devices", http.StatusOK); !strings.Contains(page, "Imported 2 devices.") {
		t.Error("no flash after the import")
	}
	resp, body = c.upload("/console/devices/import", map[string]string{"format": "json"},
		map[string]string{"file": `{"version": 1, "devices": [{"serial-number": "IMP-0003"}]}`})
	wantStatus(t, "JSON import", resp, body, http.StatusSeeOther, "/console/devices")
	if _, ok := e.device("IMP-0003"); !ok {
		t.Fatal("JSON import stored nothing")
	}

	// Enough devices for the list to page, under the rejected import too.
	var many strings.Builder
	many.WriteString("serial-number,product,idevid\n")
	for i := range 60 {
		fmt.Fprintf(&many, "LOT-%02d,,\n", i)
	}
	if _, err := e.svc.ImportDevices(context.Background(), "csv", []byte(many.String()), "test"); err != nil {
		t.Fatal(err)
	}
	before = e.state()
	resp, body = c.upload("/console/devices/import", map[string]string{"format": "csv",
		"text": "serial-number,product,idevid\nIMP-0004,gadget,\n,gadget,\nIMP-0001,gadget,\n"}, nil)
	wantStatus(t, "import with bad rows", resp, body, http.StatusUnprocessableEntity, "")
	if !strings.Contains(body, `id="rejected-rows"`) || strings.Count(body, "<tr><td class=\"num\">") != 2 {
		t.Errorf("the rejected import does not list its two bad rows: %s", body)
	}
	if !strings.Contains(body, "IMP-0001") {
		t.Error("the duplicate row is not named")
	}
	if !strings.Contains(body, `id="next-page" href="/console/devices?cursor=`) {
		t.Error("the rejected import's page does not page from the device list")
	}
	resp, body = c.upload("/console/devices/import", map[string]string{"format": "xml", "text": "<devices/>"}, nil)
	wantStatus(t, "import in another format", resp, body, http.StatusUnsupportedMediaType, "")
	if got := e.state(); got != before {
		t.Fatalf("refused imports changed the database:\n%s\n%s", before, got)
	}

	// The factory reads devices, not owners (a sold device shows its
	// owner's id, as GET /admin/v1/devices/{serial} does), vouchers or the
	// audit log.
	o, err := e.svc.CreateOwner(context.Background(), "secret-customer", []byte(caPEM(t, "secret-customer CA")), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AssignOwner(context.Background(), masa.Selection{SerialNumbers: []string{"FAB-0001"}}, o.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if page := c.get("/console/devices/FAB-0001", http.StatusOK); strings.Contains(page, "secret-customer") || !strings.Contains(page, fmt.Sprintf("#%d", o.ID)) {
		t.Error("the factory's device page names the owner")
	}
	if page := c.get("/console/devices", http.StatusOK); strings.Contains(page, "secret-customer") {
		t.Error("the factory's device list names the owner")
	}
	if strings.Contains(page, `href="/console/owners"`) || strings.Contains(page, `href="/console/events"`) {
		t.Error("factory's menu shows pages its role may not read")
	}
	for _, p := range []string{"/console/owners", "/console/vouchers", "/console/events"} {
		c.get(p, http.StatusForbidden)
	}
}

// TestSearchAndPaging: the serial search finds one device; the list pages
// through a table by its keyset cursor, every device once, and a cursor
// far into 10 000 devices finds its page.
func TestSearchAndPaging(t *testing.T) { testkit.EachBackend(t, tSearchAndPaging) }

func tSearchAndPaging(t *testing.T, b testkit.Backend) {
	e := newEnv(t, b)
	var csv strings.Builder
	csv.WriteString("serial-number,product,idevid\n")
	const n = 130
	for i := range n {
		fmt.Fprintf(&csv, "PG-%04d,gizmo,\n", i)
	}
	if _, err := e.svc.ImportDevices(context.Background(), "csv", []byte(csv.String()), "test"); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(masa.RoleAuditor)
	page := c.get("/console/devices?serial_number=PG-0077", http.StatusOK)
	if strings.Count(page, `<tr id="device-`) != 1 || !strings.Contains(page, `id="device-PG-0077"`) {
		t.Fatalf("search by serial: %s", page)
	}
	if page := c.get("/console/devices?serial_number=PG-9999", http.StatusOK); !strings.Contains(page, `id="no-devices"`) {
		t.Error("a search for an unknown serial shows devices")
	}

	seen := map[string]bool{}
	path, pages := "/console/devices", 0
	for path != "" {
		page := c.get(path, http.StatusOK)
		pages++
		for _, part := range strings.Split(page, `<tr id="device-`)[1:] {
			serial := part[:strings.Index(part, `"`)]
			if seen[serial] {
				t.Fatalf("%s shown twice", serial)
			}
			seen[serial] = true
		}
		path = ""
		if i := strings.Index(page, `id="next-page" href="`); i >= 0 {
			rest := page[i+len(`id="next-page" href="`):]
			path = strings.ReplaceAll(rest[:strings.Index(rest, `"`)], "&amp;", "&")
		}
	}
	if len(seen) != n || pages != 3 {
		t.Fatalf("paged through %d devices in %d pages, want %d in 3", len(seen), pages, n)
	}
	// 10 000 more: a page far into the table is found by its cursor, as
	// the first one is.
	csv.Reset()
	csv.WriteString("serial-number,product,idevid\n")
	for i := range 10000 {
		fmt.Fprintf(&csv, "BIG-%05d,gizmo,\n", i)
	}
	if _, err := e.svc.ImportDevices(context.Background(), "csv", []byte(csv.String()), "test"); err != nil {
		t.Fatal(err)
	}
	page = c.get("/console/devices?product=gizmo&cursor="+adminapi.EncodeCursor("BIG-09979"), http.StatusOK)
	if got := strings.Count(page, `<tr id="device-BIG-`); got != 20 || !strings.Contains(page, `id="device-BIG-09980"`) || !strings.Contains(page, `id="device-BIG-09999"`) {
		t.Errorf("the page after BIG-09979 shows %d of its devices", got)
	}
	if !strings.Contains(page, `id="next-page"`) {
		t.Error("the page after BIG-09979 has no next page (the PG- devices follow)")
	}
	if page := c.get("/console/devices?status=owned", http.StatusOK); !strings.Contains(page, `id="no-devices"`) {
		t.Error("status=owned lists unsold devices")
	}
	c.get("/console/devices?status=sold", http.StatusBadRequest)
	c.get("/console/devices?cursor=notacursor", http.StatusBadRequest)
	c.get("/console/devices?colour=red", http.StatusBadRequest)
	if page := c.get("/console/devices/NOPE-1", http.StatusNotFound); !strings.Contains(page, "unknown device") {
		t.Error("an unknown device's page does not say so")
	}
	// A serial number may hold "/" (a PrintableString allows it): its
	// page and links escape it.
	if _, err := e.svc.ImportDevices(context.Background(), "csv", []byte("serial-number,product,idevid\nRACK/7 (B),gizmo,\n"), "test"); err != nil {
		t.Fatal(err)
	}
	if page := c.get("/console/devices?serial_number=RACK/7+(B)", http.StatusOK); !strings.Contains(page, `href="/console/devices/RACK%2F7%20%28B%29"`) {
		t.Errorf("the link to RACK/7 (B) is not escaped: %s", page)
	}
	if page := c.get("/console/devices/RACK%2F7%20(B)", http.StatusOK); !strings.Contains(page, `id="device-serial">RACK/7 (B)<`) {
		t.Errorf("RACK/7 (B)'s page: %s", page)
	}
}

// TestSales: a sales token registers an owner by its CA certificate,
// sells devices to it by list and by range, disables one and takes one
// back; the device's page shows each change; the vouchers page lists a
// device's vouchers by owner.
func TestSales(t *testing.T) { testkit.EachBackend(t, tSales) }

func tSales(t *testing.T, b testkit.Backend) {
	e := newEnv(t, b)
	ctx := context.Background()
	if _, err := e.svc.ImportDevices(ctx, "csv", []byte("serial-number,product,idevid\nS-1,x,\nS-2,x,\nS-3,x,\nS-4,x,\n"), "test"); err != nil {
		t.Fatal(err)
	}
	c := e.signIn(masa.RoleSales)
	page := c.get("/console/owners", http.StatusOK)
	if !strings.Contains(page, `id="add-owner"`) || !strings.Contains(page, `id="sale"`) {
		t.Fatal("sales' owners page lacks its forms")
	}
	resp, body := c.upload("/console/owners", map[string]string{"name": "example.net"}, map[string]string{"ca_cert_file": caPEM(t, "example.net CA")})
	wantStatus(t, "register owner", resp, body, http.StatusSeeOther, "/console/owners")
	os, err := e.svc.Store().ListOwners(ctx)
	if err != nil || len(os) != 1 || os[0].Name != "example.net" {
		t.Fatalf("owners: %+v, %v", os, err)
	}
	owner := fmt.Sprint(os[0].ID)
	if page := c.get("/console/owners", http.StatusOK); !strings.Contains(page, "Owner example.net (id "+owner+") is registered.") {
		t.Error("no flash after registering the owner")
	}

	resp, body = c.post("/console/sales", url.Values{"owner_id": {owner}, "serial_numbers": {"S-1\nS-2"}})
	wantStatus(t, "sell by list", resp, body, http.StatusSeeOther, "/console/owners")
	resp, body = c.post("/console/sales", url.Values{"owner_id": {owner}, "from": {"S-3"}, "to": {"S-4"}})
	wantStatus(t, "sell by range", resp, body, http.StatusSeeOther, "/console/owners")
	for _, s := range []string{"S-1", "S-2", "S-3", "S-4"} {
		if rec, _ := e.device(s); rec.OwnerID != os[0].ID {
			t.Fatalf("%s not sold: owner %d", s, rec.OwnerID)
		}
	}
	page = c.get("/console/devices/S-1", http.StatusOK)
	if !strings.Contains(page, "example.net") || !strings.Contains(page, `id="take-back"`) || !strings.Contains(page, `id="disable"`) {
		t.Fatalf("sold device's page: %s", page)
	}

	resp, body = c.post("/console/devices/S-1/status", url.Values{"status": {"disabled"}})
	wantStatus(t, "disable", resp, body, http.StatusSeeOther, "/console/devices/S-1")
	if rec, _ := e.device("S-1"); rec.Status != masa.DeviceDisabled {
		t.Fatalf("S-1 is %s", rec.Status)
	}
	resp, body = c.post("/console/sales/revoke", url.Values{"serial_numbers": {"S-2"}, "back": {"device"}})
	wantStatus(t, "take back", resp, body, http.StatusSeeOther, "/console/devices/S-2")
	if rec, _ := e.device("S-2"); rec.OwnerID != 0 {
		t.Fatalf("S-2 still owned by %d", rec.OwnerID)
	}
	if page := c.get("/console/devices/S-2", http.StatusOK); !strings.Contains(page, `id="sell-device"`) {
		t.Error("an unsold device's page offers no sale")
	}

	// Refused sales change nothing.
	before := e.state()
	for _, tc := range []struct {
		path string
		form url.Values
		want int
	}{
		{"/console/sales", url.Values{"owner_id": {"999"}, "serial_numbers": {"S-2"}}, http.StatusNotFound},
		{"/console/sales", url.Values{"owner_id": {owner}, "serial_numbers": {"S-2\nNOPE"}}, http.StatusNotFound},
		{"/console/sales", url.Values{"owner_id": {owner}}, http.StatusUnprocessableEntity},
		{"/console/sales", url.Values{"serial_numbers": {"S-2"}}, http.StatusUnprocessableEntity},
		{"/console/sales", url.Values{"owner_id": {"x"}, "serial_numbers": {"S-2"}}, http.StatusBadRequest},
		{"/console/devices/S-2/status", url.Values{"status": {"sold"}}, http.StatusUnprocessableEntity},
		{"/console/devices/NOPE/status", url.Values{"status": {"disabled"}}, http.StatusNotFound},
		{"/console/owners", url.Values{"ca_cert": {"not a certificate"}}, http.StatusUnprocessableEntity},
	} {
		resp, body := c.post(tc.path, tc.form)
		wantStatus(t, fmt.Sprintf("%s %v", tc.path, tc.form), resp, body, tc.want, "")
	}
	if got := e.state(); got != before {
		t.Fatalf("refused sales changed the database:\n%s\n%s", before, got)
	}

	// Vouchers: one recorded for S-3, listed by owner and by serial.
	nonce := "n-1"
	if _, err := e.svc.Store().RecordVoucher(ctx, masa.VoucherRecord{SerialNumber: "S-3", OwnerID: os[0].ID, DomainID: os[0].DomainID,
		RequestSHA256: make([]byte, 32), Nonce: &nonce, Assertion: "verified", RegistrarSubject: "CN=registrar.example.net",
		Voucher: []byte("v"), IssuedAt: time.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/console/vouchers", "/console/vouchers?owner_id=" + owner, "/console/vouchers?serial_number=S-3"} {
		if page := c.get(p, http.StatusOK); strings.Count(page, `data-serial="S-3"`) != 1 || !strings.Contains(page, "CN=registrar.example.net") {
			t.Errorf("%s does not list S-3's voucher", p)
		}
	}
	if page := c.get("/console/vouchers?serial_number=S-4", http.StatusOK); !strings.Contains(page, `id="no-vouchers"`) {
		t.Error("S-4 has vouchers listed")
	}
	if page := c.get("/console/devices/S-3", http.StatusOK); !strings.Contains(page, "newest 1 of 1") {
		t.Error("S-3's page does not show its voucher")
	}
	// Sales may not read the audit log.
	c.get("/console/events", http.StatusForbidden)
}

// TestAuditorCannotAct: an auditor sees devices, owners, vouchers and the
// audit log but no form that changes anything, and each such request,
// forged with a valid session and CSRF token, is a 403 that changes
// nothing.
func TestAuditorCannotAct(t *testing.T) { testkit.EachBackend(t, tAuditorCannotAct) }

func tAuditorCannotAct(t *testing.T, b testkit.Backend) {
	e := newEnv(t, b)
	ctx := context.Background()
	if _, err := e.svc.ImportDevices(ctx, "csv", []byte("serial-number,product,idevid\nA-1,x,\n"), e.actor(masa.RoleFactory)); err != nil {
		t.Fatal(err)
	}
	o, err := e.svc.CreateOwner(ctx, "example.net", []byte(caPEM(t, "example.net CA")), "test")
	if err != nil {
		t.Fatal(err)
	}
	c := e.signIn(masa.RoleAuditor)
	pages := map[string]string{}
	for _, p := range []string{"/console/devices", "/console/devices/A-1", "/console/owners", "/console/vouchers", "/console/events"} {
		pages[p] = c.get(p, http.StatusOK)
		for _, control := range []string{`id="mint"`, `id="import"`, `id="sale"`, `id="add-owner"`, `id="sell-device"`, `id="disable"`, `id="take-back"`} {
			if strings.Contains(pages[p], control) {
				t.Errorf("auditor's %s shows %s", p, control)
			}
		}
	}
	if !strings.Contains(pages["/console/events"], `data-action="device.import"`) || !strings.Contains(pages["/console/events"], e.actor(masa.RoleFactory)) {
		t.Error("the audit log does not show the import and who made it")
	}
	if !strings.Contains(pages["/console/devices/A-1"], `id="device-events"`) {
		t.Error("an auditor's device page has no audit trail")
	}

	before := e.state()
	owner := fmt.Sprint(o.ID)
	for _, tc := range []struct {
		path   string
		fields map[string]string
		files  map[string]string
	}{
		{"/console/devices/mint", map[string]string{"csr": csrPEM(t, "A-9")}, nil},
		{"/console/devices/import", map[string]string{"format": "csv", "text": "serial-number,product,idevid\nA-8,x,\n"}, nil},
		{"/console/sales", map[string]string{"owner_id": owner, "serial_numbers": "A-1"}, nil},
		{"/console/sales/revoke", map[string]string{"serial_numbers": "A-1"}, nil},
		{"/console/owners", map[string]string{"name": "evil"}, map[string]string{"ca_cert_file": caPEM(t, "evil CA")}},
		{"/console/devices/A-1/status", map[string]string{"status": "disabled"}, nil},
	} {
		resp, body := c.upload(tc.path, tc.fields, tc.files)
		wantStatus(t, "auditor POST "+tc.path, resp, body, http.StatusForbidden, "")
		if !strings.Contains(body, `role auditor may not do this`) {
			t.Errorf("auditor POST %s: the refusal does not say why: %s", tc.path, body)
		}
	}
	if got := e.state(); got != before {
		t.Fatalf("an auditor's requests changed the database:\n%s\n%s", before, got)
	}
}

// TestCSRFAndSession: a change without the session's CSRF token, with
// another session's, or from another origin is a 403 that changes
// nothing; without a session a page goes to sign-in and a change is a
// 401; a revoked token's session ends; the admin listener's root leads to
// the console.
func TestCSRFAndSession(t *testing.T) { testkit.EachBackend(t, tCSRFAndSession) }

func tCSRFAndSession(t *testing.T, b testkit.Backend) {
	e := newEnv(t, b)
	admin := e.signIn(masa.RoleAdmin)
	other := e.signIn(masa.RoleFactory)
	// Its own cookie, apart from the registrar console's on the same host.
	u, _ := url.Parse(e.srv.URL)
	if cs := admin.hc.Jar.Cookies(u); len(cs) != 1 || cs[0].Name != "landfall-masa-console" {
		t.Fatalf("the MASA console's cookies: %v", cs)
	}
	before := e.state()
	mint := url.Values{"csr": {csrPEM(t, "X-1")}}

	resp, body := admin.post("/console/devices/mint", url.Values{"csr": mint["csr"], "csrf": {""}})
	wantStatus(t, "mint without CSRF token", resp, body, http.StatusForbidden, "")
	if !strings.Contains(body, "CSRF") {
		t.Errorf("the refusal does not name the CSRF token: %s", body)
	}
	resp, body = admin.post("/console/devices/mint", url.Values{"csr": mint["csr"], "csrf": {other.csrf}})
	wantStatus(t, "mint with another session's CSRF token", resp, body, http.StatusForbidden, "")
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/console/devices/mint", strings.NewReader(url.Values{"csr": mint["csr"], "csrf": {admin.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, body = admin.do(req)
	wantStatus(t, "mint from another origin", resp, body, http.StatusForbidden, "")
	resp, body = admin.post("/console/sales/revoke", url.Values{"serial_numbers": {"X"}, "csrf": {"forged"}})
	wantStatus(t, "revoke with a forged CSRF token", resp, body, http.StatusForbidden, "")

	anon := e.client()
	resp, _ = anon.do(mustRequest(http.MethodGet, e.srv.URL+"/console/devices"))
	wantStatus(t, "page without a session", resp, "", http.StatusSeeOther, "/console/signin")
	resp, body = anon.post("/console/devices/mint", mint)
	wantStatus(t, "change without a session", resp, body, http.StatusUnauthorized, "")
	resp, body = anon.post("/console/signin", url.Values{"token": {e.tokens[masa.RoleAdmin]}})
	wantStatus(t, "sign-in without the form's CSRF token", resp, body, http.StatusForbidden, "")
	anon.get("/console/signin", http.StatusOK)
	resp, body = anon.post("/console/signin", url.Values{"token": {"lfmasa_wrong"}})
	wantStatus(t, "sign-in with a wrong token", resp, body, http.StatusUnauthorized, "")
	if got := e.state(); got != before {
		t.Fatalf("refused requests changed the database:\n%s\n%s", before, got)
	}

	if err := e.svc.Store().RevokeToken(context.Background(), e.ids[masa.RoleFactory], time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, _ = other.do(mustRequest(http.MethodGet, e.srv.URL+"/console/devices"))
	wantStatus(t, "page after the token was revoked", resp, "", http.StatusSeeOther, "/console/signin")

	resp, body = admin.post("/console/signout", url.Values{})
	wantStatus(t, "sign-out", resp, body, http.StatusSeeOther, "/console/signin")
	resp, _ = admin.do(mustRequest(http.MethodGet, e.srv.URL+"/console/devices"))
	wantStatus(t, "page after sign-out", resp, "", http.StatusSeeOther, "/console/signin")

	resp, _ = anon.do(mustRequest(http.MethodGet, e.srv.URL+"/"))
	wantStatus(t, "the admin listener's root", resp, "", http.StatusFound, "/console/")
	// The admin API beside it is unchanged.
	resp, _ = anon.do(mustRequest(http.MethodGet, e.srv.URL+"/admin/v1/devices"))
	wantStatus(t, "admin API without a token", resp, "", http.StatusUnauthorized, "")
}

func mustRequest(method, url string) *http.Request {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		panic(err)
	}
	return req
}
