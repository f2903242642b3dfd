package registrar_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
)

// BenchmarkOnboarding measures full onboardings (handshake, pledge
// voucher-request, registrar voucher-request to the real MASA, voucher
// validation, status reports, EST enrollment) with two replicas behind the
// round-robin proxy, all on this machine. Direct mode is the baseline the
// ATLS modes are compared with in BENCHMARKS.md.
func BenchmarkOnboarding(b *testing.B) {
	for _, mode := range pledge.HTTPModes {
		b.Run(mode, func(b *testing.B) {
			e := newEnvB(b)
			devices := make([]tls.Certificate, b.N)
			for i := range devices {
				devices[i] = e.newDevice(fmt.Sprintf("B-%s-%06d", mode, i), true)
			}
			var next atomic.Int64
			b.SetParallelism(8) // 16 devices onboarding at once on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d := devices[next.Add(1)-1]
					if _, err := pledge.Onboard(context.Background(), e.pledgeConfig(mode, d)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "onboardings/s")
		})
	}
}

// newEnvB builds the deployment for a benchmark.
func newEnvB(b *testing.B) *env {
	return newEnv(b, envOptions{approval: registrar.ApprovalAuto})
}
