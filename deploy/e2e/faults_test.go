package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/pledge"
)

// faultLoad is the load every fault runs under: key-export ATLS (the
// default mode) through the load balancer.
const (
	faultDevices     = 48
	faultConcurrency = 8
	faultMode        = pledge.ModeATLSOSCORE
)

// postgresFault stops PostgreSQL (immediate shutdown, as a crash) once
// the load is under way, waits until both replicas report themselves
// unready with Retry-After and the devices have been answered 503,
// starts it again and checks that every device onboarded exactly once.
func (d *deployment) postgresFault(t *testing.T) {
	const prefix = "PGDOWN"
	l := d.startLoad(t, prefix, faultMode, faultDevices, faultConcurrency)
	d.waitCertified(t, l, faultConcurrency/2)
	if err := d.pg.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, name := range replicaNames {
		waitFor(t, name+" unready while PostgreSQL is down", 30*time.Second, d.replicas[name], func() (bool, string) {
			code, ra, err := status(hc, d.adminURL(name)+"/readyz")
			return code == http.StatusServiceUnavailable && ra != "", fmt.Sprintf("%d Retry-After %q %v", code, ra, err)
		})
	}
	waitFor(t, "devices answered 503 while PostgreSQL is down", 60*time.Second, nil, func() (bool, string) {
		select {
		case <-l.done:
			t.Fatalf("the load ended while PostgreSQL was down: %v", l.err)
		default:
		}
		n := l.seen503.Load()
		return n >= faultConcurrency/2, fmt.Sprintf("%d 503s", n)
	})
	down503 := l.seen503.Load()
	if err := d.pg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range replicaNames {
		waitReady(t, d.replicas[name], d.adminURL(name)+"/readyz", hc)
	}
	r := l.wait(t)
	t.Logf("PostgreSQL down: %d answers 503 seen by then; whole run: %d succeeded, %d failed, answers %v", down503, r.succeeded, r.failed, r.answers)
	if r.succeeded != faultDevices {
		t.Errorf("%d of %d devices onboarded:\n%s", r.succeeded, faultDevices, r.report)
	}
	checkCleanAnswers(t, r)
	logTables(t, prefix, d.checkOnboardedOnce(t, prefix, faultDevices))
}

// masaFault stops the MASA (SIGTERM) once the load is under way, waits
// until the registrar has recorded voucher exchanges that found the MASA
// unreachable (each answered to its device with 503 and Retry-After),
// checks that no exchange is half-written, starts the MASA again and
// checks that every device onboarded exactly once.
func (d *deployment) masaFault(t *testing.T) {
	const prefix = "MASADOWN"
	l := d.startLoad(t, prefix, faultMode, faultDevices, faultConcurrency)
	d.waitCertified(t, l, faultConcurrency/2)
	d.masa.stop(t)
	if !d.masa.exited() {
		t.Fatal("the MASA did not stop")
	}
	waitFor(t, "voucher requests finding the MASA unreachable", 90*time.Second, nil, func() (bool, string) {
		select {
		case <-l.done:
			t.Fatalf("the load ended while the MASA was down: %v", l.err)
		default:
		}
		tb := d.tables(t, prefix)
		return tb.outcomes["masa-unreachable"] >= faultConcurrency/2, fmt.Sprintf("%v", tb.outcomes)
	})
	down := d.tables(t, prefix)
	logTables(t, prefix+" while the MASA is down", down)
	if down.halfWritten != 0 || down.uncovered != 0 {
		t.Errorf("while the MASA is down: %d half-written voucher exchanges, %d certificates without a voucher", down.halfWritten, down.uncovered)
	}
	d.startMASA(t)
	r := l.wait(t)
	t.Logf("MASA down: whole run %d succeeded, %d failed, answers %v", r.succeeded, r.failed, r.answers)
	if r.succeeded != faultDevices {
		t.Errorf("%d of %d devices onboarded:\n%s", r.succeeded, faultDevices, r.report)
	}
	checkCleanAnswers(t, r)
	tb := d.checkOnboardedOnce(t, prefix, faultDevices)
	logTables(t, prefix, tb)
	if tb.outcomes["masa-unreachable"] < down.outcomes["masa-unreachable"] {
		t.Errorf("voucher exchanges lost: %v, had %v", tb.outcomes, down.outcomes)
	}
}

// replicaKill kills registrar-b with SIGKILL once the load is under way;
// every device must still onboard, with exactly one certificate. It runs
// last: the replica's id stays taken until its heartbeat expires.
func (d *deployment) replicaKill(t *testing.T) {
	const prefix = "KILL"
	l := d.startLoad(t, prefix, faultMode, faultDevices, faultConcurrency)
	d.waitCertified(t, l, faultConcurrency/2)
	d.replicas["registrar-b"].kill()
	before, err := d.certified(prefix)
	if err != nil {
		t.Fatal(err)
	}
	r := l.wait(t)
	t.Logf("registrar-b killed with %d of %d devices certified; whole run %d succeeded, %d failed, answers %v",
		before, faultDevices, r.succeeded, r.failed, r.answers)
	if r.succeeded != faultDevices {
		t.Errorf("%d of %d devices onboarded:\n%s", r.succeeded, faultDevices, r.report)
	}
	logTables(t, prefix, d.checkOnboardedOnce(t, prefix, faultDevices))
}

// checkCleanAnswers: every 503 the devices got carried Retry-After, and
// no other 5xx reached them.
func checkCleanAnswers(t *testing.T, r result) {
	t.Helper()
	if r.answers["503"] != r.answers["503-with-retry-after"] {
		t.Errorf("%d answers 503, only %d with Retry-After", r.answers["503"], r.answers["503-with-retry-after"])
	}
	for code, n := range r.answers {
		if len(code) == 3 && code[0] == '5' && code != "503" {
			t.Errorf("%d answers %s reached the devices", n, code)
		}
	}
}
