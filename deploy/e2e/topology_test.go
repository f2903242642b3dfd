// Package e2e_test runs docker-compose.yml's topology for real, as OS
// processes on this machine, and loads it with cmd/loadgen.
package e2e_test

import (
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
)

// TestComposeTopology builds masa, registrar, loadgen and step-ca, runs
// the services of docker-compose.yml as processes (PostgreSQL; masa-init
// then masa; step-ca; registrar-init then registrar-a and registrar-b;
// nginx with deploy/nginx.conf and the UDP balancer of
// deploy/nginx-coap.conf it includes as the load balancer), each with the
// command line and environment docker-compose.yml gives it, and then:
//
//  1. loads it in every pledge mode (pledge.Modes: the four over HTTPS,
//     and coap-oscore through the UDP balancer), every device
//     onboarding;
//  2. stops PostgreSQL under load and starts it again: the replicas'
//     readiness and the devices see 503 with Retry-After while it is
//     down, every device then onboards exactly once;
//  3. stops the MASA (SIGTERM, as `docker compose stop`) under load:
//     the devices are told to retry (503, Retry-After; inside ATLS, so
//     counted from the registrar's voucher exchanges that found the MASA
//     unreachable), no voucher exchange is half-written, every device
//     onboards once it is back;
//  4. kills one replica with SIGKILL under load: every device onboards,
//     with exactly one certificate each in the registrar's certificates
//     table.
//
// What one machine forces to change, and nothing else, is substituted
// into the compose configuration:
//
//   - Service host names in URLs (postgres://…@postgres:5432,
//     https://masa:8443, https://registrar-a:8444, https://step-ca:9000)
//     become loopback at the port standing in for the container's:
//     PostgreSQL by 127.0.0.1, the TLS services by "localhost", because
//     their certificates name "masa,localhost" (masa init --hosts),
//     "…,localhost" (registrar init --dns-names) and "step-ca,localhost"
//     (DOCKER_STEPCA_INIT_DNS_NAMES) and no IP address; the lists of
//     names themselves are passed unchanged.
//   - Listen addresses of all interfaces (":8443", ":9090", …) become
//     127.0.0.1 and a free port per service and container port: the
//     replicas share one host, and the test stays on loopback.
//   - Named volumes (masa-keys, registrar-state, stepca) become
//     directories under the test's temporary directory, at every path a
//     service mounts them (/var/lib/landfall/masa, /run/stepca-home, …);
//     pgdata is pgcluster's data directory.
//   - LANDFALL_REGISTRAR_TRUSTED_PROXIES: the load balancer's fixed
//     address 172.30.0.10/32 becomes 127.0.0.1/32, where nginx connects
//     from here.
//   - ${STEPCA_FINGERPRINT}, which compose reads from .env (written by
//     the step-ca-fingerprint service), is the SHA-256 of the step-ca root.
//   - PostgreSQL: the postgres:15 image's first start (POSTGRES_PASSWORD,
//     POSTGRES_DB, the /docker-entrypoint-initdb.d scripts, here
//     deploy/postgres-init.sql) is done on a pgcluster cluster (initdb
//     and pg_ctl as the postgres user on a free loopback port, trust
//     authentication).
//   - step-ca: the image's DOCKER_STEPCA_INIT_* setup is replaced by
//     testkit.WriteStepCAHome (root and intermediate with encrypted
//     keys, the JWK provisioner DOCKER_STEPCA_INIT_PROVISIONER_NAME with
//     an encrypted key, secrets/password, no database), with the
//     provisioner template docs/deployment.md's step 2 asks for and a
//     maxTLSCertDuration of 366 days: `step ca init` leaves step-ca's
//     24 h, and the registrars ask for their default --cert-validity of
//     a year (compose sets none), which step-ca refuses (403 on every
//     simpleenroll). It listens on 127.0.0.1 and a free port instead
//     of :9000.
//   - deploy/nginx.conf and deploy/nginx-coap.conf: the upstream lines
//     "server registrar-x:8080;" and "server registrar-x:5683;"
//     name the replicas' loopback ports, "listen 443 ssl" becomes
//     127.0.0.1 and a free port, the ./deploy/tls mount
//     (/etc/nginx/tls/lb.crt, lb.key) is a temporary directory with a
//     certificate for localhost and 127.0.0.1 from a test CA, "listen
//     5683 udp" becomes 127.0.0.1 and a free port, the include of the
//     mounted nginx-coap.conf names a temporary copy, Debian's nginx
//     loads its stream module (load_module; the image has it built in),
//     and the file locations the nginx image has built in (pid, logs,
//     temporary files) are put there too (-g and a few lines at the top
//     of http {}); the rest of the files is used as is.
//   - Operator steps of docs/deployment.md (step 5) run as
//     `docker compose exec` would, in the services' environments: MASA
//     tokens (factory, sales), a registrar admin token, the manufacturer
//     trusted at the registrar, and the devices put on the allow-list
//     (compose runs --approval allow-list) through registrar-a's admin
//     API before each load.
//
// The rate limits compose sets (100/s, burst 200, 64 handshakes per
// client) stay: every load here is smaller.
func TestComposeTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and runs the whole compose topology")
	}
	d := up(t)

	t.Run("cost per onboarding, per process", func(t *testing.T) { costPerProcess(t, d) })

	t.Run("load in every mode", func(t *testing.T) {
		const devices, concurrency = 24, 8
		for _, mode := range pledge.Modes {
			prefix := "MODE-" + strings.ToUpper(strings.TrimPrefix(mode, "atls-"))
			r := d.startLoad(t, prefix, mode, devices, concurrency).wait(t)
			t.Logf("%s: %d succeeded, %d failed; %v", mode, r.succeeded, r.failed, r.answers)
			if r.succeeded != devices || r.failed != 0 {
				t.Errorf("%s: %d of %d devices onboarded:\n%s", mode, r.succeeded, devices, r.report)
			}
			d.checkOnboardedOnce(t, prefix, devices)
		}
	})
	t.Run("postgres stopped and started under load", func(t *testing.T) { d.postgresFault(t) })
	t.Run("masa stopped under load", func(t *testing.T) { d.masaFault(t) })
	t.Run("replica killed under load", func(t *testing.T) { d.replicaKill(t) })
}

// logTables logs what a fault run left in the tables.
func logTables(t *testing.T, what string, tb tables) {
	t.Logf("%s: %d pledges %v, %d certificates (%d devices with exactly one), voucher exchanges %v, %d MASA vouchers",
		what, tb.pledges, tb.states, tb.certificates, tb.oncePerDev, tb.outcomes, tb.masaVouchers)
}
