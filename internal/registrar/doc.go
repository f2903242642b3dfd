// Package registrar is Landfall's BRSKI registrar (RFC 8995): the owner's
// side of onboarding. It accepts pledges over ATLS (pkg/atls, all three
// profile modes) or direct mutual TLS, validates their voucher requests and
// obtains vouchers from their manufacturers' MASAs (pkg/voucher), enrolls
// their domain certificates through EST (pkg/enroll), and keeps every bit
// of state in PostgreSQL so that any number of replicas can share a load
// balancer, or, for a single registrar, in the embedded SQLite store
// (internal/sqldb; same code and SQL). It is not the MASA (internal/masa) nor the device
// (internal/pledge).
//
// One file per endpoint family, as in RFC 8995:
//
//   - registrar.go: Config, New (the one assembly of `registrar serve`, the
//     sandbox and the demo), the device routes and listeners' handlers.
//   - backends.go: the interfaces the registrar consumes (Records,
//     VoucherSource, ContextStore, ReplicaRegistry), and OnPostgreSQL and
//     OnSQLite, which build them on one database.
//   - identity.go, anchorcache.go: who the pledge is, by its IDevID chain
//     and its manufacturer's anchor (5.5, 5.9.2).
//   - peerverify.go: the ATLS inner handshake's client check (5.1).
//   - requestvoucher.go: /requestvoucher, step by step: checkPledgeRequest
//     (5.2, 5.3), admit (the approval decision), registrarVoucherRequest
//     (5.5), relayToMASA and recordMASAFailure (5.5.1-5.6).
//   - masaclient.go: MASAClient, the VoucherSource posting to a MASA's
//     /requestvoucher (5.5, 2.3.2 for the MASA URL).
//   - telemetry.go: /voucher_status (5.7) and /enrollstatus (5.9.4).
//   - est.go: EST wiring and the enrollment gate (5.9, RFC 7030 4.2).
//   - issuance.go: recording issued certificates around the CA (5.9.3,
//     RFC 7030 4.2.1, 4.2.2).
//   - ldevidnames.go: the names of domain certificates (5.9.2).
//   - errors.go: the device answers' errors (StatusCode, RetryAfter) and
//     their one writer; 5xx causes are logged with the request id.
//   - state.go: the replica's keys and certificates on disk, the RA
//     certificate (5.5, id-kp-cmcRA) and the internal listener's TLS.
//   - metrics.go: request ids, per-request logs and Prometheus metrics.
//   - adminlistener.go: the admin listener (admin API, metrics, ATLS
//     stats).
//
// Sub-packages: admin (the operator-facing API), store (PostgreSQL state:
// pledges, exchanges, certificates, manufacturers), ctxstore (ATLS
// key-export contexts and connection IDs) and replica (the replica
// registry).
package registrar
