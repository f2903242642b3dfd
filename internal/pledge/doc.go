// Package pledge is Landfall's reference device: the pledge's side of
// BRSKI (RFC 8995) over direct TLS or ATLS in any of its three modes. It
// provisionally accepts the registrar (5.1), asks for a voucher (5.2),
// validates it against the manufacturer's anchor and then validates the
// registrar against the domain certificate the voucher pins (5.6.1),
// reports voucher status (5.7), enrolls through EST (5.9) and reports
// enrollment status (5.9.4). cmd/pledge runs it for one device and as a
// load generator; the registrar's end-to-end tests run it too.
package pledge
