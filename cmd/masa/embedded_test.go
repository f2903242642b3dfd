package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/httpapi"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testpg"
)

// TestServeEmbedded: without a database URL, `masa serve` runs on the
// embedded SQLite file <key-dir>/masa.db, migrated at start, says so in
// its log and is ready; the one-shot commands work on it before and
// beside the server (a token made while it serves authenticates at once);
// a second server on the same file and `masa migrate` are refused while
// it runs; afterwards migrate goes down by one and up again on it.
func TestServeEmbedded(t *testing.T) {
	keyDir := filepath.Join(t.TempDir(), "keys")
	env := map[string]string{"LANDFALL_MASA_KEY_DIR": keyDir, "LANDFALL_MASA_MASA_URL": "masa.example.com"}
	if out, errs, code := runCmd(t, env, "init"); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	csvFile := filepath.Join(t.TempDir(), "devices.csv")
	os.WriteFile(csvFile, []byte("serial-number,product,idevid\nEMB-1,widget,\n"), 0o600)
	if out, errs, code := runCmd(t, env, "device", "import", "--file", csvFile); code != 0 || !strings.Contains(out, "imported 1") {
		t.Fatalf("import before serve: %d %s %s", code, out, errs)
	}
	dbFile := filepath.Join(keyDir, "masa.db")
	if _, err := os.Stat(dbFile); err != nil {
		t.Fatalf("no embedded store: %v", err)
	}

	listen, admin := testkit.FreeAddr(t), testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var log testkit.SyncBuffer
	go func() {
		done <- run(ctx, []string{"--listen", listen, "--admin-listen", admin}, &bytes.Buffer{}, &log, func(k string) string { return env[k] })
	}()
	stopped := false
	stop := func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not shut down")
		}
		return 0
	}
	defer stop()
	waitFor(t, "http://"+admin+"/healthz")
	if resp, err := http.Get("http://" + admin + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	if want := `"store":"sqlite ` + dbFile + `"`; !strings.Contains(log.String(), want) {
		t.Errorf("the log does not name the store (%s):\n%s", want, log.String())
	}

	secret, errs, code := runCmd(t, env, "token", "create", "--role", "auditor", "--name", "beside")
	if code != 0 {
		t.Fatalf("token create beside serve: %d %s", code, errs)
	}
	req, _ := http.NewRequest("GET", "http://"+admin+"/admin/v1/devices?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(body.String(), "EMB-1") {
		t.Fatalf("devices with the token made beside serve: %d %s", resp.StatusCode, body.String())
	}

	// An online backup is a complete store: the device imported before
	// serve is in it.
	backupFile := filepath.Join(t.TempDir(), "backup.db")
	if out, errs, code := runCmd(t, env, "backup", "--out", backupFile); code != 0 || !strings.Contains(out, backupFile) {
		t.Fatalf("backup beside serve: %d %s %s", code, out, errs)
	}
	copied, _, err := sqlstore.OpenEmbedded(context.Background(), backupFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := testkit.Count(t, copied.DB(), "devices WHERE serial_number = 'EMB-1'"); n != 1 {
		t.Errorf("the backup holds %d rows of EMB-1", n)
	}
	copied.Close()

	other := testkit.FreeAddr(t)
	if _, errs, code := runCmd(t, env, "--listen", testkit.FreeAddr(t), "--admin-listen", other); code == 0 || !strings.Contains(errs, "in use") {
		t.Errorf("a second serve on the embedded store: %d %s", code, errs)
	}
	if _, errs, code := runCmd(t, env, "migrate", "down"); code == 0 || !strings.Contains(errs, "in use") {
		t.Errorf("migrate under a running serve: %d %s", code, errs)
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, log.String())
	}

	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "version"}, "schema at version 1 (sqlite " + dbFile + ")"},
		{[]string{"migrate", "down"}, "schema at version 0"},
		{[]string{"migrate", "version"}, "schema at version 0"},
		{[]string{"migrate"}, "schema at version 1"},
		{[]string{"migrate", "up"}, "schema at version 1"},
	} {
		if out, errs, code := runCmd(t, env, step.args...); code != 0 || !strings.Contains(out, step.want) {
			t.Errorf("%v: %d %q %s, want %q", step.args, code, out, errs, step.want)
		}
	}
	if _, errs, code := runCmd(t, env, "migrate", "sideways"); code == 0 || !strings.Contains(errs, "unknown action") {
		t.Errorf("unknown migrate action: %d %s", code, errs)
	}
}

// TestMigrateDownByOnePostgreSQL: on PostgreSQL, down reverts the newest
// migration only, up reapplies it, and down --all reverts every one.
func TestMigrateDownByOnePostgreSQL(t *testing.T) {
	env := map[string]string{"LANDFALL_MASA_DATABASE_URL": testpg.Database(t)}
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate"}, "schema at version 1 (postgresql)"},
		{[]string{"migrate", "version"}, "schema at version 1"},
		{[]string{"migrate", "down"}, "schema at version 0"},
		{[]string{"migrate", "up"}, "schema at version 1"},
		{[]string{"migrate", "down", "--all"}, "schema at version 0"},
		{[]string{"migrate", "version"}, "schema at version 0"},
	} {
		if out, errs, code := runCmd(t, env, step.args...); code != 0 || !strings.Contains(out, step.want) {
			t.Errorf("%v: %d %q %s, want %q", step.args, code, out, errs, step.want)
		}
	}
	if _, errs, code := runCmd(t, env, "migrate", "up", "--all"); code == 0 || !strings.Contains(errs, "--all goes with down") {
		t.Errorf("up --all: %d %s", code, errs)
	}
}

// TestReadyzReflectsEmbeddedStore: the admin listener's readiness pings
// the store; with the embedded database closed under the service it
// answers 503 with Retry-After, and so does an authenticated admin call,
// as during a PostgreSQL outage (TestDatabaseOutage).
func TestReadyzReflectsEmbeddedStore(t *testing.T) {
	store, _, err := sqlstore.OpenEmbedded(context.Background(), filepath.Join(t.TempDir(), "masa.db"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := masa.InitKeys(filepath.Join(t.TempDir(), "keys"), masa.InitOptions{Organization: "t", Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := masa.New(masa.ConfigFromKeys(store, keys, "masa.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.AdminHandler(svc, httpapi.AdminOptions{}))
	defer srv.Close()
	_, secret, err := svc.CreateToken(context.Background(), "probe", masa.RoleAuditor)
	if err != nil {
		t.Fatal(err)
	}
	devices := func() *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/admin/v1/devices", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp, err := http.Get(srv.URL + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	if resp := devices(); resp.StatusCode != 200 {
		t.Fatalf("admin devices: %d", resp.StatusCode)
	}
	store.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("readyz with the store closed: %v %v", err, resp)
	}
	if resp := devices(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("admin devices with the store closed: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
