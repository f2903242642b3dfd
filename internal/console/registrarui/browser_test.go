package registrarui_test

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
)

// chromiumPath is Debian's chromium (scripts/deps.sh installs it). Without
// it the browser tests skip, except under CI, where they fail.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{"chromium", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (CI=true): run scripts/deps.sh")
	}
	t.Skip("chromium is not installed: the console's browser tests need it (scripts/deps.sh installs Debian's chromium)")
	return ""
}

// TestConsoleInBrowser drives the console in headless Chromium against a
// whole sandbox deployment in manual approval mode, on the embedded store
// and on PostgreSQL (two replicas, either of which serves the session):
// an operator signs in, sees a held
// pledge, approves it and watches the same device onboard; denies another
// in bulk, whose next voucher request is refused with 403; adds and
// removes a manufacturer with a PEM upload; imports an allow-list with one
// bad row (refused with the row shown, nothing imported). An auditor sees
// no approve button and a forged approval is refused; a request without
// the CSRF token is refused; neither changes the database. No page breaks
// the Content-Security-Policy or throws.
//
// With LANDFALL_SCREENSHOTS=docs/console (a path from the repository's
// root) the PostgreSQL run saves screenshots of the main pages there.
func TestConsoleInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	t.Run("sqlite", func(t *testing.T) {
		d, err := sandbox.Start(context.Background(), sandbox.Options{Embedded: true, Approval: registrar.ApprovalManual})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		browserFlow(t, d, chromium, "")
	})
	t.Run("postgresql", func(t *testing.T) {
		d := testdeploy.StartWith(t, sandbox.Options{Approval: registrar.ApprovalManual})
		if len(d.Admin) != 2 {
			t.Fatalf("%d replicas, want 2 (the session must cross them)", len(d.Admin))
		}
		browserFlow(t, d, chromium, screenshotDir(t))
	})
}

// screenshotDir is LANDFALL_SCREENSHOTS from the repository's root, or "".
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("LANDFALL_SCREENSHOTS")
	if dir == "" || filepath.IsAbs(dir) {
		return dir
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return filepath.Join(root, dir)
}

// flow is one browser session against a deployment.
type flow struct {
	t     *testing.T
	d     *sandbox.Deployment
	ctx   context.Context
	base  string // the admin listener
	shots string
	mu    sync.Mutex
	msgs  []chromedp.ConsoleMessage
}

func browserFlow(t *testing.T, d *sandbox.Deployment, chromium, shots string) {
	ctx := context.Background()
	adminToken, err := d.Store.CreateToken(ctx, "shift-lead", store.RoleAdmin, "test")
	if err != nil {
		t.Fatal(err)
	}
	auditorToken, err := d.Store.CreateToken(ctx, "auditor", store.RoleAuditor, "test")
	if err != nil {
		t.Fatal(err)
	}
	hold, holdCfg := held(t, d, "HOLD-1")
	deny, denyCfg := held(t, d, "DENY-1")
	keep, _ := held(t, d, "WAIT-1")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-gpu", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// A bound on the whole session, not a timing assertion.
	bctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	f := &flow{t: t, d: d, ctx: bctx, base: d.Admin[0].URL, shots: shots}
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			f.mu.Lock()
			f.msgs = append(f.msgs, m)
			f.mu.Unlock()
		}
	}()

	// The console sits beside the admin API on the same listener.
	for path, want := range map[string]int{"/console": http.StatusFound, "/api/v1/nothing": http.StatusUnauthorized, "/healthz": http.StatusOK} {
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(f.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	// Sign in: the admin listener's root leads to the sign-in form.
	f.do(chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	f.shot("signin")
	f.do(chromedp.SendKeys(chromedp.CSS("#token"), adminToken), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#pending-preview")))
	if got := f.text("#pending-preview"); !strings.Contains(got, "HOLD-1") || !strings.Contains(got, "DENY-1") {
		t.Fatalf("overview's pending pledges: %q", got)
	}

	// The session is the cookie alone: another replica's admin listener,
	// which shares the session key, serves it too.
	for i, adm := range d.Admin[1:] {
		req, _ := http.NewRequest(http.MethodGet, adm.URL+"/console/pledges", nil)
		req.Header.Set("Cookie", f.cookies())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "shift-lead") || !strings.Contains(string(b), "HOLD-1") {
			t.Errorf("replica %d with the session of replica 0: %d", i+1, resp.StatusCode)
		}
	}

	// Approve HOLD-1 from the list.
	f.do(chromedp.Navigate(f.base+"/console/pledges"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#approve-%d", hold.ID))))
	f.shot("pledges")
	f.do(chromedp.Click(chromedp.CSS(fmt.Sprintf("#approve-%d", hold.ID))), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := f.text("#flash"); got != "Pledge HOLD-1 is approved." {
		t.Fatalf("flash after approval: %q", got)
	}
	if p := f.pledge(hold.ID); p.Decision != store.DecisionApproved || !strings.Contains(p.DecidedBy, "shift-lead") {
		t.Fatalf("HOLD-1 after approval: %+v", p)
	}

	// Watch it onboard: the story page refreshes itself while the device
	// retries.
	f.do(chromedp.Navigate(fmt.Sprintf("%s/console/pledges/%d", f.base, hold.ID)), chromedp.WaitVisible(chromedp.CSS("#state")))
	done := make(chan error, 1)
	go func() {
		_, err := pledge.Onboard(context.Background(), holdCfg)
		done <- err
	}()
	f.do(chromedp.WaitVisible(chromedp.CSS("#state.enrolled")), chromedp.WaitVisible(chromedp.CSS("#certificates td.mono")))
	if err := <-done; err != nil {
		t.Fatalf("HOLD-1 did not onboard after approval: %v", err)
	}
	if got := f.text("#exchanges"); !strings.Contains(got, "held") || !strings.Contains(got, "issued") {
		t.Errorf("HOLD-1's exchanges: %q", got)
	}
	if got := f.text("#audit"); !strings.Contains(got, "pledge.approve") {
		t.Errorf("HOLD-1's audit trail: %q", got)
	}
	f.shot("story")

	// Deny DENY-1 in bulk; its device is then refused with 403.
	f.do(chromedp.Navigate(f.base+"/console/pledges"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#select-%d", deny.ID))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#select-%d", deny.ID))), chromedp.Click(chromedp.CSS("#bulk-deny")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := f.text("#flash"); got != "1 pledge(s) denied: DENY-1." {
		t.Fatalf("flash after the bulk denial: %q", got)
	}
	_, err = pledge.Onboard(ctx, denyCfg)
	var perr *pledge.Error
	if !errors.As(err, &perr) || perr.Status != http.StatusForbidden {
		t.Fatalf("denied DENY-1 onboarding: %v, want 403", err)
	}
	f.do(chromedp.Navigate(fmt.Sprintf("%s/console/pledges/%d", f.base, deny.ID)), chromedp.WaitVisible(chromedp.CSS("#decision.denied")))
	if got := f.text("#exchanges"); !strings.Contains(got, "denied") {
		t.Errorf("DENY-1's exchanges show no denial: %q", got)
	}

	// A manufacturer added with a PEM upload, then removed.
	pemFile := filepath.Join(t.TempDir(), "second-factory.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testkit.SelfSignedCA(t, "Second Factory CA", time.Now())}), 0o600); err != nil {
		t.Fatal(err)
	}
	f.do(chromedp.Navigate(f.base+"/console/manufacturers"), chromedp.WaitVisible(chromedp.CSS("#m-name")),
		chromedp.SendKeys(chromedp.CSS("#m-name"), "Second Factory"), chromedp.SetUploadFiles(chromedp.CSS("#m-anchor"), []string{pemFile}),
		chromedp.Click(chromedp.CSS("#add")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := f.text("#manufacturers"); !strings.Contains(got, "CN=Second Factory CA") {
		t.Fatalf("manufacturers after the upload: %q", got)
	}
	f.shot("manufacturers")
	second := f.manufacturer("Second Factory")
	f.do(chromedp.Click(chromedp.CSS(fmt.Sprintf("#remove-%d", second.ID))), chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf("#manufacturer-%d", second.ID))),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := f.text("#flash"); got != "Manufacturer Second Factory removed." {
		t.Errorf("flash after removal: %q", got)
	}
	if _, err := d.Store.GetManufacturer(ctx, second.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the removed manufacturer: %v", err)
	}

	// An allow-list with one bad row: refused, the row shown, nothing
	// imported; then the corrected file.
	mname := f.manufacturer("").Name
	csvFile := filepath.Join(t.TempDir(), "allow.csv")
	write := func(body string) {
		if err := os.WriteFile(csvFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("manufacturer,serial,note\n%s,LINE-100,rack 4\n%s,,no serial\n", mname, mname))
	before := f.count("allowlist")
	f.do(chromedp.Navigate(f.base+"/console/allowlist"), chromedp.WaitVisible(chromedp.CSS("#csv")),
		chromedp.SetUploadFiles(chromedp.CSS("#csv"), []string{csvFile}), chromedp.Click(chromedp.CSS("#import-button")),
		chromedp.WaitVisible(chromedp.CSS("#import-error")))
	if got := f.text("#import-error"); !strings.Contains(got, "1 row(s) rejected; nothing was imported") || !strings.Contains(got, "3") {
		t.Fatalf("import error: %q", got)
	}
	if after := f.count("allowlist"); after != before {
		t.Fatalf("the refused import changed the allow-list: %d -> %d rows", before, after)
	}
	f.shot("allowlist")
	write(fmt.Sprintf("manufacturer,serial,note\n%s,LINE-100,rack 4\n%s,LINE-101,rack 4\n", mname, mname))
	f.do(chromedp.SetUploadFiles(chromedp.CSS("#csv"), []string{csvFile}), chromedp.Click(chromedp.CSS("#import-button")),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := f.text("#flash"); got != "Imported: 2 added, 0 updated." {
		t.Errorf("flash after the import: %q", got)
	}

	f.do(chromedp.Navigate(f.base+"/console/live"), chromedp.WaitVisible(chromedp.CSS("#replicas")))
	f.shot("live")
	f.do(chromedp.Navigate(f.base+"/console/tokens"), chromedp.WaitVisible(chromedp.CSS("#tokens")))
	f.shot("tokens")
	f.do(chromedp.Navigate(f.base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#activity-chart svg")))
	if got := f.text("#onboarded-count"); got != "1" {
		t.Errorf("onboarded in the last hour: %q, want 1", got)
	}
	f.shot("overview")

	// A change without the CSRF token, with the operator's own session
	// cookie, is refused and changes nothing.
	snap := f.snapshot()
	status, body := f.post(f.cookies(), fmt.Sprintf("/console/pledges/%d/approve", deny.ID), url.Values{})
	if status != http.StatusForbidden || !strings.Contains(body, "CSRF token") {
		t.Errorf("approval without the CSRF token: %d", status)
	}
	if f.snapshot() != snap {
		t.Error("the request without the CSRF token changed the database")
	}

	// An auditor sees the pledges but no way to act; a forged approval,
	// with the auditor's session and its CSRF token, is refused.
	f.do(chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), auditorToken), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#pending-preview")),
		chromedp.Navigate(f.base+"/console/pledges"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#pledge-%d", keep.ID))))
	main := f.html("main")
	if strings.Contains(main, "approve-") || strings.Contains(main, "bulk-approve") || strings.Contains(main, "deny-") || strings.Contains(main, `name="ids"`) {
		t.Errorf("the auditor is shown decision controls: %s", main)
	}
	if nav := f.html("nav"); strings.Contains(nav, "/console/tokens") {
		t.Error("the auditor's menu offers tokens")
	}
	csrf, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`#decisions input[name="csrf"]`)))
	if err != nil || csrf == "" {
		t.Fatalf("the auditor's CSRF token: %v", err)
	}
	snap = f.snapshot()
	for _, forged := range []struct {
		path string
		form url.Values
	}{
		{fmt.Sprintf("/console/pledges/%d/approve", keep.ID), url.Values{"csrf": {csrf}}},
		{"/console/pledges/decisions", url.Values{"csrf": {csrf}, "ids": {fmt.Sprint(keep.ID)}, "decision": {"approved"}}},
	} {
		status, body := f.post(f.cookies(), forged.path, forged.form)
		if status != http.StatusForbidden || !strings.Contains(body, "role auditor may not do this; it needs operator") {
			t.Errorf("auditor's forged POST %s: %d", forged.path, status)
		}
	}
	if f.snapshot() != snap || f.pledge(keep.ID).Decision != store.DecisionPending {
		t.Error("the auditor's forged approval changed the database")
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		// The network's log names every 4xx the test provokes (the 422 of
		// the refused import); anything else that is an error is a fault.
		if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") || (m.Type == "error" && m.Source != "network") {
			t.Errorf("browser console: %s (%s)", m, m.URL)
		}
	}
}

// held makes an owned device, whose first voucher request the manual mode
// holds (202), and returns its pledge and a configuration to retry with.
func held(t *testing.T, d *sandbox.Deployment, serial string) (*store.Pledge, pledge.Config) {
	t.Helper()
	ctx := context.Background()
	idevid, err := d.NewDevice(ctx, serial, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.PledgeConfig(pledge.ModeATLSCOSE, idevid)
	cfg.MaxRetries = 1
	// Retries at once: the test does not wait out Retry-After.
	cfg.Sleep = func(time.Duration) <-chan time.Time { return time.After(0) }
	_, err = pledge.Onboard(ctx, cfg)
	var perr *pledge.Error
	if !errors.As(err, &perr) || perr.Status != http.StatusAccepted {
		t.Fatalf("%s's first attempt: %v, want 202 (held)", serial, err)
	}
	p, err := d.Store.FindPledge(ctx, d.ManufacturerID, serial)
	if err != nil {
		t.Fatal(err)
	}
	// After approval the device retries until it is through.
	cfg.MaxRetries = 20
	return p, cfg
}

func (f *flow) do(steps ...chromedp.Action[chromedp.Void]) {
	f.t.Helper()
	if err := chromedp.Do(f.ctx, steps...); err != nil {
		f.t.Fatalf("browser: %v (page: %s)", err, f.html("body"))
	}
}

func (f *flow) text(sel string) string {
	f.t.Helper()
	s, err := chromedp.Run(f.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		f.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (f *flow) html(sel string) string {
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS(sel)))
	return s
}

// shot saves a screenshot of the viewport as <name>.png under the
// screenshot directory, when there is one.
func (f *flow) shot(name string) {
	f.t.Helper()
	if f.shots == "" {
		return
	}
	png, err := chromedp.Run(f.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.MkdirAll(f.shots, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.shots, name+".png"), png, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// cookies are the browser's cookies for the console, as a Cookie header.
func (f *flow) cookies() string {
	f.t.Helper()
	cs, err := chromedp.Run(f.ctx, func(ctx context.Context, t *chromedp.Target) ([]*network.Cookie, error) {
		r, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{f.base + "/console/"}})
		return r.Cookies, err
	})
	if err != nil || len(cs) == 0 {
		f.t.Fatalf("browser cookies: %v %v", cs, err)
	}
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// post sends a form with the cookies, as a forged request would.
func (f *flow) post(cookie, path string, form url.Values) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookie)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *flow) pledge(id int64) *store.Pledge {
	f.t.Helper()
	p, err := f.d.Store.GetPledge(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// manufacturer is the one named name, or the sandbox's own for "".
func (f *flow) manufacturer(name string) store.Manufacturer {
	f.t.Helper()
	ms, err := f.d.Store.ListManufacturers(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, m := range ms {
		if (name == "" && m.ID == f.d.ManufacturerID) || (name != "" && m.Name == name) {
			return m
		}
	}
	f.t.Fatalf("no manufacturer %q", name)
	return store.Manufacturer{}
}

func (f *flow) count(table string) int { return testkit.Count(f.t, f.d.DB(), table) }

// snapshot is what a refused change must leave as it was.
func (f *flow) snapshot() string {
	var b strings.Builder
	for _, q := range []string{"pledges WHERE decision = 'pending'", "pledges WHERE decision = 'approved'", "pledges WHERE decision = 'denied'",
		"allowlist", "manufacturers", "audit_events", "voucher_exchanges"} {
		fmt.Fprintf(&b, "%s=%d ", q, f.count(q))
	}
	return b.String()
}
