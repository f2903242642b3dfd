package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/landfall-io/landfall/internal/masa"
)

// BenchmarkRequestVoucherHTTPS measures vouchers issued per second by one
// MASA process end to end: registrar voucher-requests POSTed over its
// HTTPS listener (TLS 1.3), every check of RFC 8995 5.5, a signed voucher,
// and its record written to PostgreSQL. Each request is distinct (own
// nonce), so none is answered from the repeated-request path. Requests are
// built before the timer starts. "keepalive" reuses connections, as a
// registrar would; "new-connection" pays a TLS handshake per voucher.
func BenchmarkRequestVoucherHTTPS(b *testing.B) {
	b.Run("keepalive", func(b *testing.B) { benchmarkVoucherHTTPS(b, false) })
	b.Run("new-connection", func(b *testing.B) { benchmarkVoucherHTTPS(b, true) })
}

func benchmarkVoucherHTTPS(b *testing.B, newConn bool) {
	p := newTestPKI(b)
	cfg := p.config()
	cfg.maxConns = 16
	e := newEnv(b, cfg)
	ctx := context.Background()
	owner, err := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "bench")
	if err != nil {
		b.Fatal(err)
	}
	const devices = 32
	pledges := make([]keyPair, devices)
	serials := make([]string, devices)
	for i := range pledges {
		serials[i] = fmt.Sprintf("BENCH-%04d", i)
		pledges[i] = newPledge(b, e, serials[i], "widget")
	}
	if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: serials}, owner.ID, "bench"); err != nil {
		b.Fatal(err)
	}
	reqs := make([][]byte, b.N)
	for i := range reqs {
		reqs[i] = forDomain(pledges[i%devices], p.a, fmt.Sprintf("nonce-%d-%d", b.N, i)).build(b)
	}
	client := e.client(nil)
	client.Transport.(*http.Transport).DisableKeepAlives = newConn
	url := e.device.URL + "/.well-known/brski/requestvoucher"
	var next atomic.Int64
	b.SetParallelism(4) // 4 x GOMAXPROCS concurrent registrars
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(reqs[i]))
			req.Header.Set("Content-Type", "application/voucher-cms+json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vouchers/s")
	var n int64
	if err := e.store.DB().QueryRow(ctx, `SELECT count(*) FROM vouchers`).Scan(&n); err != nil || n != int64(b.N) {
		b.Fatalf("%d vouchers recorded for %d requests (%v)", n, b.N, err)
	}
}

// BenchmarkRequestVoucherService is the same work without HTTP and TLS:
// the baseline that shows what the listener costs.
func BenchmarkRequestVoucherService(b *testing.B) {
	p := newTestPKI(b)
	e := newEnv(b, p.config())
	ctx := context.Background()
	owner, _ := e.svc.CreateOwner(ctx, "a", p.a.ca.cert.Raw, "bench")
	pledge := newPledge(b, e, "BENCH-SVC", "widget")
	if _, err := e.svc.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{"BENCH-SVC"}}, owner.ID, "bench"); err != nil {
		b.Fatal(err)
	}
	reqs := make([][]byte, b.N)
	for i := range reqs {
		reqs[i] = forDomain(pledge, p.a, fmt.Sprintf("svc-%d-%d", b.N, i)).build(b)
	}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := e.svc.RequestVoucher(ctx, masa.VoucherRequest{Body: reqs[i]}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "vouchers/s")
}
