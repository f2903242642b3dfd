package sandbox_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestConstrainedOnboarding (issue 16 items 4 and 7): constrained devices
// onboard through the cBRSKI and EST-coaps resources (/rv, /vs, /es,
// /crts, /att, /sen) over atls-oscore, through the load balancer, two
// registrar replicas and the real MASA, which signs a COSE voucher. Each
// device ends with exactly one certificate, one COSE exchange as both
// services recorded it and both reports; both replicas served constrained
// resources and neither a long-named BRSKI or EST one.
func TestConstrainedOnboarding(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	const devices = 4
	for i := range devices {
		serial := fmt.Sprintf("CBRSKI-%d", i)
		idevid, err := d.NewDevice(ctx, serial, true)
		if err != nil {
			t.Fatal(err)
		}
		cfg := d.PledgeConfig(pledge.ModeATLSOSCORE, idevid)
		cfg.Constrained = true
		res, err := pledge.Onboard(ctx, cfg)
		if err != nil {
			if res != nil {
				for _, s := range res.Steps {
					t.Logf("%-16s %v %s", s.Name, s.Err, s.Detail)
				}
			}
			t.Fatal(err)
		}
		if res.Certificate.Subject.SerialNumber != serial || res.Voucher.SerialNumber != serial {
			t.Fatalf("certificate for %v, voucher for %s", res.Certificate.Subject, res.Voucher.SerialNumber)
		}
		checkExchangeFormat(t, d, serial, voucher.FormatCOSE)
		p, err := d.Store.FindPledge(ctx, d.ManufacturerID, serial)
		if err != nil {
			t.Fatal(err)
		}
		certs, _ := d.Store.ListCertificates(ctx, p.ID)
		reports, _ := d.Store.ListTelemetry(ctx, p.ID)
		if p.State != store.StateEnrolled || len(certs) != 1 || len(reports) != 2 || !bytes.Equal(certs[0].DER, res.Certificate.Raw) {
			t.Fatalf("%s: state %s, %d certificates, %d reports", serial, p.State, len(certs), len(reports))
		}
		vs, err := d.MASA.Store().ListVouchers(ctx, masa.VoucherFilter{SerialNumber: serial, Limit: 10})
		if err != nil || len(vs) != 1 {
			t.Fatalf("the MASA signed %d vouchers for %s (%v)", len(vs), serial, err)
		}
	}

	constrained := []string{voucher.PathConstrainedVoucherRequest, voucher.PathConstrainedVoucherStatus, voucher.PathConstrainedEnrollStatus,
		enroll.PathCoapsCACerts, enroll.PathCoapsCSRAttrs, enroll.PathCoapsSimpleEnroll}
	long := []string{voucher.PathRequestVoucher, voucher.PathVoucherStatus, voucher.PathEnrollStatus, enroll.DefaultPathPrefix + "/simpleenroll", enroll.DefaultPathPrefix + "/cacerts"}
	total := map[string]float64{}
	for i, rg := range d.Replicas {
		rec := httptest.NewRecorder()
		rg.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		counted := requestsByRoute(rec.Body.String())
		served := 0.0
		for _, route := range constrained {
			served += counted[route]
			total[route] += counted[route]
		}
		if served == 0 {
			t.Errorf("replica %d served no constrained resource", i)
		}
		for _, route := range long {
			if counted[route] != 0 {
				t.Errorf("replica %d served %v requests on %s", i, counted[route], route)
			}
		}
	}
	for _, route := range constrained {
		if total[route] != devices {
			t.Errorf("%s served %v times, want %d", route, total[route], devices)
		}
	}
}

// requestsByRoute sums landfall_registrar_requests_total by route.
func requestsByRoute(metrics string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, "landfall_registrar_requests_total{") {
			continue
		}
		_, rest, _ := strings.Cut(line, `route="`)
		route, _, _ := strings.Cut(rest, `"`)
		fields := strings.Fields(line)
		v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
		out[route] += v
	}
	return out
}
