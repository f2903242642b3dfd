// Package masa is the manufacturer's authorized signing authority of
// RFC 8995 (BRSKI): it knows every device the manufacturer built and who
// owns it, and it answers registrar voucher-requests with signed RFC 8366
// vouchers.
//
// The Service holds the protocol logic; by file:
//
//   - config.go, service.go: the one assembly. New builds the MASA from a
//     Config whose unset options take production defaults;
//     ConfigFromKeys is the production Config of a key directory. `masa
//     serve`, its one-shot commands and the sandbox all call New.
//   - registrarauth.go: the checks of RFC 8995 section 5.5 that need no
//     device (the voucher-request signature, 5.5.3, through pkg/voucher)
//     and the verification of the domain registrar (5.5.4).
//   - requestvoucher.go: ownership and the pinned domain CA (5.5.2,
//     5.5.4), the pledge's prior-signed-voucher-request (5.5.5), nonces
//     (5.5.6) and the voucher response (5.6), recorded for the audit log.
//   - auditlog.go: the audit log response (5.8.1); domainid.go: the
//     domain-ID (5.8.2).
//   - idevid.go: IDevID issuance (2.3.1, 2.3.2); importdevices.go: bulk
//     device import; ownership.go: owners, ownership, device status and
//     voucher policy; tokens.go: admin API tokens; keys.go: the key
//     directory `masa init` writes.
//   - store.go: the Store interface this package owns; sqlstore implements
//     it on PostgreSQL and on embedded SQLite. errors.go: Error, which carries the HTTP status.
//
// HTTP lives in httpapi; cmd/masa parses configuration and runs.
//
// Every failure a caller can cause is an *Error carrying its HTTP status
// and a plain reason; bad input never changes state. A database that
// cannot be reached is Unavailable: 503 with Retry-After.
//
// Vouchers, voucher-requests and their CMS come from pkg/voucher: this
// package adds what only a MASA knows (which devices exist, who owns them,
// what policy applies) and records what it issued. It is not a registrar
// and not a CA for domain certificates.
package masa
