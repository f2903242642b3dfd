// Package registrar is Landfall's BRSKI registrar (RFC 8995): the owner's
// side of onboarding. It accepts pledges over ATLS (pkg/atls, all three
// profile modes) or direct mutual TLS, validates their voucher requests and
// obtains vouchers from their manufacturers' MASAs (pkg/voucher), enrolls
// their domain certificates through EST (pkg/enroll), and keeps every bit
// of state in PostgreSQL so that any number of replicas can share a load
// balancer.
//
// One file per endpoint family, as in RFC 8995: identity.go (who the
// pledge is, 5.5 and 5.9), est.go (EST wiring and enrollment policy, 5.9),
// and the cluster plumbing in cluster.go. The operator-facing admin API is
// in the admin sub-package, the state in store.
package registrar
