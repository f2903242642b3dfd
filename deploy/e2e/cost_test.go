package e2e_test

import (
	"net/url"
	"regexp"
	"testing"
)

// costPerProcess runs loadgen with the per-process figures of issue 14
// against the real processes: each replica's and the MASA's CPU from their
// Prometheus endpoints (the registrars' behind an auditor's token or
// better), and PostgreSQL's transactions and statements from the
// deployment's server.
func costPerProcess(t *testing.T, d *deployment) {
	dsn, err := url.Parse(d.m.envValue("registrar-a", "LANDFALL_REGISTRAR_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	dsn.Path = "/postgres" // the maintenance database, beside the services'
	const devices = 24
	r := d.startLoad(t, "COST", "atls-oscore", devices, 8,
		"--registrar-metrics-url", d.adminURL("registrar-a")+"/metrics,"+d.adminURL("registrar-b")+"/metrics",
		"--masa-metrics-url", d.masaAdminURL()+"/metrics", "--metrics-token", d.adminTok,
		"--database-url", dsn.String()).wait(t)
	if r.succeeded != devices || r.failed != 0 {
		t.Fatalf("%d of %d devices onboarded:\n%s", r.succeeded, devices, r.report)
	}
	for what, re := range map[string]*regexp.Regexp{
		"registrar-a CPU": regexp.MustCompile(`cpu +registrar ` + regexp.QuoteMeta(hostOf(d.adminURL("registrar-a"))) + ` +[0-9.]+ ms`),
		"registrar-b CPU": regexp.MustCompile(`cpu +registrar ` + regexp.QuoteMeta(hostOf(d.adminURL("registrar-b"))) + ` +[0-9.]+ ms`),
		"MASA CPU":        regexp.MustCompile(`cpu +masa ` + regexp.QuoteMeta(hostOf(d.masaAdminURL())) + ` +[0-9.]+ ms`),
		"registrar db":    regexp.MustCompile(`db +registrar +[0-9.]+ transactions`),
		"MASA db":         regexp.MustCompile(`db +masa +[0-9.]+ transactions`),
	} {
		if !re.MatchString(r.report) {
			t.Errorf("loadgen reports no %s per onboarding:\n%s", what, r.report)
		}
	}
	t.Logf("per onboarding, as loadgen measured it:\n%s", r.report)
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Host
}
