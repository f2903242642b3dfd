package bench

import "testing"

// BenchmarkFloor times the crypto floor of one onboarding (see the
// package comment for the operations), whole and by step.
func BenchmarkFloor(b *testing.B) {
	f, err := New()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		run  func() error
	}{
		{"onboarding-atls", func() error { return f.Onboarding(true) }},
		{"onboarding-direct", func() error { return f.Onboarding(false) }},
		{"outer-tls", f.OuterTLS},
		{"inner-tls", f.InnerTLS},
		{"vouchers", f.Vouchers},
		{"enroll", f.Enroll},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
