package e2e_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/pgcluster"
	"github.com/landfall-io/landfall/internal/testkit"
)

// deployment is docker-compose.yml's topology running as processes here.
type deployment struct {
	t   *testing.T
	dir string
	bin string
	m   *hostMap

	pg                  *pgcluster.Cluster
	masa, stepCA, lb    *proc
	replicas            map[string]*proc
	registrarDB         *pgxpool.Pool
	masaDB              *pgxpool.Pool
	lbURL               string
	lbCoAPURL           string            // nginx's UDP balancer (deploy/nginx-coap.conf)
	files               map[string]string // PEM files the devices and loadgen need
	factoryTok, saleTok string
	adminTok            string
}

var replicaNames = []string{"registrar-a", "registrar-b"}

// up brings the topology up in compose's depends_on order.
func up(t *testing.T) *deployment {
	t.Helper()
	c, ngxConf := readCompose(t)
	dir := t.TempDir()
	d := &deployment{t: t, dir: dir, replicas: map[string]*proc{}, files: map[string]string{}}
	d.m = newHostMap(t, c, dir)
	t.Cleanup(d.logsOnFailure)
	d.bin = build(t, dir)

	d.pg = startPostgres(t, d.m)

	// masa-init, then masa.
	run(t, d.binFor("masa-init"), d.m.command("masa-init")[1:], d.m.env("masa-init"))
	d.startMASA(t)

	// step-ca, and the .env its fingerprint goes to.
	d.stepCA, _ = startStepCA(t, d.m, dir, d.bin)

	// registrar-init, then both replicas.
	run(t, d.binFor("registrar-init"), d.m.command("registrar-init")[1:], d.m.env("registrar-init"))
	for _, name := range replicaNames {
		d.startReplica(name)
	}

	var lbCA *x509.Certificate
	d.lb, d.lbURL, d.lbCoAPURL, lbCA = startNginx(t, d.m, ngxConf, dir)

	d.connectDatabases()
	d.operatorSetup()
	d.writeOuterCA(lbCA)
	return d
}

// binFor is the binary of service's command.
func (d *deployment) binFor(service string) string {
	return filepath.Join(d.bin, d.m.compose.Services[service].Command[0])
}

func (d *deployment) masaAdminURL() string {
	return "http://" + d.m.flagValue("masa", "--admin-listen")
}

func (d *deployment) adminURL(replica string) string {
	return "http://" + d.m.flagValue(replica, "--listen-admin")
}

// startMASA runs the masa service and waits for its readiness.
// The process belongs to the whole test; t waits for it.
func (d *deployment) startMASA(t *testing.T) {
	t.Helper()
	d.masa = start(d.t, d.dir, "masa", d.binFor("masa"), d.m.command("masa")[1:], d.m.env("masa"))
	waitReady(t, d.masa, d.masaAdminURL()+"/readyz", nil)
}

// startReplica runs a registrar replica and waits for its readiness.
func (d *deployment) startReplica(name string) {
	d.t.Helper()
	p := start(d.t, d.dir, name, d.binFor(name), d.m.command(name)[1:], d.m.env(name))
	d.replicas[name] = p
	waitReady(d.t, p, d.adminURL(name)+"/readyz", nil)
}

func (d *deployment) connectDatabases() {
	t := d.t
	t.Helper()
	for _, db := range []struct {
		pool **pgxpool.Pool
		svc  string
		env  string
	}{{&d.registrarDB, "registrar-a", "LANDFALL_REGISTRAR_DATABASE_URL"}, {&d.masaDB, "masa", "LANDFALL_MASA_DATABASE_URL"}} {
		cfg, err := pgxpool.ParseConfig(d.m.envValue(db.svc, db.env))
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 4
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		*db.pool = pool
	}
}

// operatorSetup is docs/deployment.md's step 5, as `docker compose exec`
// would run it in the services' environments: tokens at the MASA
// (factory, sales) and at the registrar (admin), and the manufacturer
// trusted at the registrar with its IDevID CA as the anchor of both its
// IDevIDs and its MASA's TLS certificate. It also collects the PEM files
// the devices trust.
func (d *deployment) operatorSetup() {
	t := d.t
	t.Helper()
	masaKeys := d.m.flagValue("masa", "--key-dir")
	state := d.m.envValue("registrar-a", "LANDFALL_REGISTRAR_STATE_DIR")
	d.files["manufacturer-anchor"] = filepath.Join(masaKeys, "idevid-ca.crt")
	d.files["masa-cert"] = filepath.Join(masaKeys, "voucher-signer.crt")
	d.files["owner-ca"] = filepath.Join(state, "domain-ca", "root_ca.crt")
	d.files["outer-ca"] = filepath.Join(d.dir, "lb-ca.crt")

	masaEnv := d.m.env("masa")
	masaBin := d.binFor("masa")
	token := func(bin string, env []string, args ...string) string {
		out := strings.Fields(run(t, bin, args, env))
		if len(out) == 0 {
			t.Fatalf("%s %v printed no token", bin, args)
		}
		return out[len(out)-1]
	}
	d.factoryTok = token(masaBin, masaEnv, "token", "create", "--name", "e2e-factory", "--role", "factory", "--key-dir", masaKeys)
	d.saleTok = token(masaBin, masaEnv, "token", "create", "--name", "e2e-sales", "--role", "sales", "--key-dir", masaKeys)
	regEnv := d.m.env("registrar-a")
	regBin := d.binFor("registrar-a")
	d.adminTok = token(regBin, regEnv, "token", "create", "--name", "e2e-admin", "--role", "admin")
	run(t, regBin, []string{"manufacturer", "add", "--name", manufacturer,
		"--idevid-anchor", d.files["manufacturer-anchor"], "--masa-anchor", d.files["manufacturer-anchor"]}, regEnv)
}

// manufacturer is the name masa-init gives the manufacturer
// (--organization), trusted under that name at the registrar.
const manufacturer = "Example Manufacturer"

// allow puts serials on the registrar's allow-list (compose runs
// --approval allow-list) through registrar-a's admin API.
func (d *deployment) allow(t *testing.T, serials []string) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("manufacturer,serial,note\n")
	for _, s := range serials {
		fmt.Fprintf(&b, "%s,%s,e2e\n", manufacturer, s)
	}
	req, err := http.NewRequest(http.MethodPost, d.adminURL("registrar-a")+"/api/v1/allowlist", &b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+d.adminTok)
	resp, body := testkit.Do(t, &http.Client{Timeout: 10 * time.Second}, req)
	if resp.StatusCode >= 300 {
		t.Fatalf("allow-list import: %d %s", resp.StatusCode, body)
	}
}

// writeOuterCA stores the load balancer's CA for the devices.
func (d *deployment) writeOuterCA(ca *x509.Certificate) {
	if err := os.WriteFile(d.files["outer-ca"], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// logsOnFailure logs the end of every service's log when the test
// failed, and copies the whole logs into $LANDFALL_E2E_KEEP_LOGS when set.
func (d *deployment) logsOnFailure() {
	if !d.t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(d.dir, "logs", "*.log"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		d.t.Logf("--- %s (end):\n%s", filepath.Base(f), b)
	}
	if keep := os.Getenv("LANDFALL_E2E_KEEP_LOGS"); keep != "" {
		for _, f := range logs {
			b, _ := os.ReadFile(f)
			os.WriteFile(filepath.Join(keep, filepath.Base(f)), b, 0o644)
		}
	}
}
