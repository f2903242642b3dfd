package masaui_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
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

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
)

// chromiumPath is Debian's chromium (scripts/deps.sh installs it). Without
// it the browser test skips, except under CI, where it fails: the rule of
// the registrar console's browser test.
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

// TestMASAConsoleInBrowser drives the MASA's console in headless Chromium
// against a whole sandbox deployment, on the embedded stores and on
// PostgreSQL: an admin signs in, finds a device by its serial number,
// mints a device from an uploaded CSR, sells it to the registrar's domain,
// and, after the device (and another) onboards through the sandbox's
// registrar, sees the vouchers the MASA issued, by device too, and the
// audit log of what was done.
// An auditor sees no minting, import or sale control and a forged mint is
// refused; a request without the CSRF token is refused; neither changes
// the database. No page breaks the Content-Security-Policy or throws.
//
// With LANDFALL_SCREENSHOTS=docs/console (a path from the repository's
// root) the PostgreSQL run saves screenshots of the main pages there, as
// masa-*.png.
func TestMASAConsoleInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	t.Run("sqlite", func(t *testing.T) {
		d, err := sandbox.Start(context.Background(), sandbox.Options{Embedded: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		masaBrowserFlow(t, d, chromium, "")
	})
	t.Run("postgresql", func(t *testing.T) {
		masaBrowserFlow(t, testdeploy.Start(t), chromium, screenshotDir(t))
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

// flow is one browser session against a deployment's MASA.
type flow struct {
	t     *testing.T
	d     *sandbox.Deployment
	ctx   context.Context
	base  string // the MASA's admin listener
	shots string
	mu    sync.Mutex
	msgs  []chromedp.ConsoleMessage
}

func masaBrowserFlow(t *testing.T, d *sandbox.Deployment, chromium, shots string) {
	ctx := context.Background()
	adminTok, adminToken, err := d.MASA.CreateToken(ctx, "plant-manager", masa.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	_, auditorToken, err := d.MASA.CreateToken(ctx, "auditor", masa.RoleAuditor)
	if err != nil {
		t.Fatal(err)
	}
	// Devices the factory line made before: one sold, a few not.
	line7, err := d.NewDevice(ctx, "LINE-0007", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"LINE-0001", "LINE-0002", "LINE-0003"} {
		if _, err := d.NewDevice(ctx, s, false); err != nil {
			t.Fatal(err)
		}
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-gpu", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// A bound on the whole session, not a timing assertion.
	bctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	f := &flow{t: t, d: d, ctx: bctx, base: d.MASAAdmin.URL, shots: shots}
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

	// Sign in: the admin listener's root leads to the sign-in form, then
	// to the devices.
	f.do(chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	f.do(chromedp.SendKeys(chromedp.CSS("#token"), adminToken), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#devices")), chromedp.WaitVisible(chromedp.CSS("#device-LINE-0001")))
	f.shot("masa-devices")

	// Search by serial number.
	f.do(chromedp.SetValue(chromedp.CSS("#serial_number"), "LINE-0007"), chromedp.Click(chromedp.CSS("#search-button")),
		chromedp.WaitNotPresent(chromedp.CSS("#device-LINE-0001")), chromedp.WaitVisible(chromedp.CSS("#device-LINE-0007")))
	if got := f.text("#devices tbody"); !strings.Contains(got, "LINE-0007") || strings.Contains(got, "LINE-0002") {
		t.Fatalf("search for LINE-0007: %q", got)
	}

	// Mint a device: it makes its key and CSR, the console uploads the CSR.
	key := testkit.Key(t)
	csrFile := filepath.Join(t.TempDir(), "mint-0100.csr")
	csr := testkit.CSR(t, key, pkix.Name{SerialNumber: "MINT-0100"})
	if err := os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), 0o600); err != nil {
		t.Fatal(err)
	}
	f.do(chromedp.Navigate(f.base+"/console/devices"), chromedp.WaitVisible(chromedp.CSS("#mint-csr-file")),
		chromedp.SendKeys(chromedp.CSS("#mint-product"), "thermostat"), chromedp.SetUploadFiles(chromedp.CSS("#mint-csr-file"), []string{csrFile}),
		chromedp.Click(chromedp.CSS("#mint-button")), chromedp.WaitVisible(chromedp.CSS("#idevid-pem")))
	if got := f.text("#flash"); got != "Minted the IDevID of MINT-0100." {
		t.Fatalf("flash after minting: %q", got)
	}
	rec, err := d.MASA.Device(ctx, "MINT-0100")
	if err != nil || rec.Product != "thermostat" || len(rec.IDevID) == 0 {
		t.Fatalf("minted device: %+v, %v", rec, err)
	}
	pemText, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS("#idevid-pem")))
	if err != nil {
		t.Fatal(err)
	}
	idevid := parseCert(t, pemText)
	if !idevid.Equal(mustParse(t, rec.IDevID)) {
		t.Fatal("the page's IDevID is not the stored one")
	}

	// Sell it to the registrar's domain from its page.
	f.do(chromedp.SetValue(chromedp.CSS("#sell-owner"), fmt.Sprint(d.OwnerID)), chromedp.Click(chromedp.CSS("#sell")),
		chromedp.WaitVisible(chromedp.CSS("#take-back")))
	if got := f.text("#flash"); got != fmt.Sprintf("Sold 1 device to owner %d.", d.OwnerID) {
		t.Errorf("flash after the sale: %q", got)
	}
	if rec, _ := d.MASA.Device(ctx, "MINT-0100"); rec.OwnerID != d.OwnerID {
		t.Fatalf("MINT-0100's owner after the sale: %d", rec.OwnerID)
	}

	// The device onboards through the sandbox's registrar; the MASA's
	// voucher shows in the console.
	cfg := d.PledgeConfig(pledge.ModeATLSCOSE, tls.Certificate{Certificate: [][]byte{idevid.Raw}, PrivateKey: key, Leaf: idevid})
	if _, err := pledge.Onboard(ctx, cfg); err != nil {
		t.Fatalf("MINT-0100 did not onboard: %v", err)
	}
	if _, err := pledge.Onboard(ctx, d.PledgeConfig(pledge.ModeATLSCOSE, line7)); err != nil {
		t.Fatalf("LINE-0007 did not onboard: %v", err)
	}
	f.do(chromedp.Navigate(f.base+"/console/vouchers"), chromedp.WaitVisible(chromedp.CSS(`#vouchers tr[data-serial="MINT-0100"]`)))
	if got := f.text(`#vouchers tr[data-serial="MINT-0100"]`); !strings.Contains(got, "example.net") {
		t.Errorf("MINT-0100's voucher row: %q", got)
	}
	f.do(chromedp.SetValue(chromedp.CSS("#v-serial"), "LINE-0007"), chromedp.Click(chromedp.CSS("#voucher-search button")),
		chromedp.WaitNotPresent(chromedp.CSS(`#vouchers tr[data-serial="MINT-0100"]`)), chromedp.WaitVisible(chromedp.CSS(`#vouchers tr[data-serial="LINE-0007"]`)))
	f.do(chromedp.Navigate(f.base+"/console/vouchers"), chromedp.WaitVisible(chromedp.CSS(`#vouchers tr[data-serial="LINE-0007"]`)))
	f.shot("masa-vouchers")
	f.do(chromedp.Navigate(f.base+"/console/devices/MINT-0100"), chromedp.WaitVisible(chromedp.CSS("#device-vouchers")))
	if got := f.text("#device-vouchers"); strings.Contains(got, "No voucher") {
		t.Errorf("MINT-0100's page shows no voucher: %q", got)
	}
	f.shot("masa-device")

	// The audit log names who minted and sold it.
	f.do(chromedp.Navigate(f.base+"/console/events?serial_number=MINT-0100"), chromedp.WaitVisible(chromedp.CSS(`#events tr[data-action="idevid.issue"]`)))
	actor := fmt.Sprintf("token:%d:plant-manager", adminTok.ID)
	if got := f.text("#events"); !strings.Contains(got, actor) {
		t.Errorf("the audit log does not name %s: %q", actor, got)
	}
	f.do(chromedp.Navigate(f.base+"/console/events"), chromedp.WaitVisible(chromedp.CSS(`#events tr[data-action="ownership.assign"]`)))
	f.shot("masa-events")
	f.do(chromedp.Navigate(f.base+"/console/owners"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#owner-%d", d.OwnerID))))
	f.shot("masa-owners")

	// A change without the CSRF token, with the admin's own session
	// cookie, is refused and changes nothing.
	snap := f.snapshot()
	mint := url.Values{"csr": {string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: testkit.CSR(t, testkit.Key(t), pkix.Name{SerialNumber: "MINT-0200"})}))}}
	status, body := f.post(f.cookies(), "/console/devices/mint", mint)
	if status != http.StatusForbidden || !strings.Contains(body, "CSRF token") {
		t.Errorf("mint without the CSRF token: %d", status)
	}
	if f.snapshot() != snap {
		t.Error("the request without the CSRF token changed the database")
	}

	// An auditor sees the devices but no way to act; a forged mint and
	// sale, with the auditor's session and its CSRF token, are refused.
	f.do(chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), auditorToken), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#device-MINT-0100")))
	if main := f.html("main"); strings.Contains(main, `id="mint"`) || strings.Contains(main, `id="import"`) {
		t.Errorf("the auditor is shown minting or import: %s", main)
	}
	f.do(chromedp.Navigate(f.base+"/console/devices/LINE-0001"), chromedp.WaitVisible(chromedp.CSS("#device-facts")))
	if main := f.html("main"); strings.Contains(main, `id="sell-device"`) || strings.Contains(main, `id="disable"`) {
		t.Errorf("the auditor is shown sale controls: %s", main)
	}
	csrf, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`form.signout input[name="csrf"]`)))
	if err != nil || csrf == "" {
		t.Fatalf("the auditor's CSRF token: %v", err)
	}
	snap = f.snapshot()
	mint.Set("csrf", csrf)
	for path, form := range map[string]url.Values{
		"/console/devices/mint": mint,
		"/console/sales":        {"csrf": {csrf}, "owner_id": {fmt.Sprint(d.OwnerID)}, "serial_numbers": {"LINE-0001"}},
	} {
		status, body := f.post(f.cookies(), path, form)
		if status != http.StatusForbidden || !strings.Contains(body, "role auditor may not do this") {
			t.Errorf("auditor's forged POST %s: %d", path, status)
		}
	}
	if f.snapshot() != snap {
		t.Error("the auditor's forged requests changed the database")
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") || (m.Type == "error" && m.Source != "network") {
			t.Errorf("browser console: %s (%s)", m, m.URL)
		}
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
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

// shot saves a screenshot of the page as <name>.png under the screenshot
// directory, when there is one.
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

// snapshot is what a refused change must leave as it was: every device
// with its owner and status, and how many owners, vouchers and audit
// events the MASA holds.
func (f *flow) snapshot() string {
	f.t.Helper()
	ctx := context.Background()
	st := f.d.MASA.Store()
	ds, err := st.ListDevices(ctx, masa.DeviceFilter{Limit: 10000})
	if err != nil {
		f.t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s/%d/%s ", d.SerialNumber, d.OwnerID, d.Status)
	}
	os, err := st.ListOwners(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	vs, err := st.ListVouchers(ctx, masa.VoucherFilter{Limit: 10000})
	if err != nil {
		f.t.Fatal(err)
	}
	es, err := st.ListEvents(ctx, masa.EventFilter{Limit: 10000})
	if err != nil {
		f.t.Fatal(err)
	}
	fmt.Fprintf(&b, "owners=%d vouchers=%d events=%d", len(os), len(vs), len(es))
	return b.String()
}
