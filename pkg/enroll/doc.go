// Package enroll implements Enrollment over Secure Transport (EST, RFC 7030,
// updated by RFC 8951 and errata 5107, 5108 and 5904) as Landfall's registrar
// uses it to issue each accepted pledge its domain certificate (LDevID,
// RFC 8995 section 5.9), and the certificate-authority backends behind it.
//
// The package has three parts:
//
//   - The EST server ([NewServer]): handlers for /cacerts, /csrattrs (and the
//     /csrattributes alias), /simpleenroll, /simplereenroll and /serverkeygen,
//     with the optional additional path segment of RFC 7030 section 3.2.2.
//     Handlers learn who is calling from a [Peer] (the verified client chain
//     and the RFC 9266 tls-exporter channel binding), taken from the request
//     context ([WithPeer], used by the ATLS and OSCORE bindings) or, failing
//     that, from r.TLS (direct mutual TLS). A [Policy] callback decides
//     whether that device may enroll now, and a [CSRPolicy] checks each CSR.
//   - The CA backend interface ([CA]) and two implementations: [EmbeddedCA]
//     (smallstep's authority.NewEmbedded signing with the domain CA key held
//     by the registrar) and [RemoteCA] (a remote step-ca used in RA mode
//     through cas/stepcas with a JWK provisioner, so the CA key never lives
//     on the registrar).
//   - The EST client side a pledge needs ([Client], [ParseCertsOnly],
//     [ParseCSRAttrs]).
//
// Wire encodings. Requests are accepted as base64 (RFC 4648 section 4; line
// breaks and other white space are ignored, padding is optional), as PEM, or
// as raw DER. Responses are base64 with 64-character lines, as RFC 8951
// requires over HTTP, unless the request context carries [WithBinary] (the
// OSCORE mode of the ATLS profile, where EST messages travel as CoAP-style
// binary payloads, RFC 9148) or the server was built with [WithBinaryResponses].
// Content-Transfer-Encoding is not required on requests (RFC 8951 section
// 3). It is sent as "base64" on base64 responses and serverkeygen parts by
// default, since clients written to RFC 7030 before errata 5107 require it;
// [WithoutTransferEncoding] omits it. Raw DER responses never carry it.
//
// Order of checks on the POST operations, each failing with its own status
// and a plain-text reason ([Error] is mapped to the response in one place):
// label (404), client chain present (401), body size (413, [WithMaxBodySize],
// 64 KiB by default), decoding and CSR signature (400), for /simplereenroll
// the certificate being renewed chains to [CA.CACerts] (403) and the CSR
// keeps its subject and subjectAltNames (403 unless
// [WithReenrollSubjectChange]), the [CSRPolicy] (403), the [Policy] (202 with
// Retry-After for "not yet", 403 for "no"), the CA (its *Error passes
// through, anything else is a 500 without details), and the [IssuedHook].
//
// What this package is not: it does not terminate TLS, ATLS or OSCORE (those
// bindings hand it a Peer), it does not decide which devices are welcome
// (the registrar's Policy does, after voucher validation), and it keeps no
// state: issuance results reach the caller through [WithIssuedHook] for the
// registrar to record.
package enroll
