// Package masa is the manufacturer's authorized signing authority of
// RFC 8995 (BRSKI): it knows every device the manufacturer built and who
// owns it, and it answers registrar voucher-requests with signed RFC 8366
// vouchers.
//
// The Service holds the protocol logic: the MASA checks of RFC 8995
// section 5.5, the voucher response of section 5.6, the audit log of
// section 5.8, and the factory and sales operations around them (IDevID
// issuance, bulk device import, ownership, voucher policy, tokens). State
// lives behind the Store interface, which this package owns; pgstore
// implements it on PostgreSQL. HTTP lives in httpapi; cmd/masa wires them.
//
// Every failure a caller can cause is an *Error carrying its HTTP status
// and a plain reason; bad input never changes state.
//
// Vouchers, voucher-requests and their CMS come from pkg/voucher: this
// package adds what only a MASA knows (which devices exist, who owns them,
// what policy applies) and records what it issued. It is not a registrar
// and not a CA for domain certificates.
package masa
