package voucher

// This file defines the names BRSKI puts on the wire, once for the
// registrar, the MASA and the pledge: the media type of a CMS-signed voucher
// or voucher-request (RFC 8366 section 8.3) and the /.well-known/brski
// resources of RFC 8995 section 5. The OIDs sit with the code that checks
// them: OIDCmcRA in idevid.go, OIDAnimaJSONVoucher in cms_sign.go.

// MediaTypeVoucherCMS is application/voucher-cms+json (RFC 8366 section
// 8.3): a JSON voucher or voucher-request in a CMS SignedData, the body of
// requestvoucher and requestauditlog requests and of a voucher answer
// (RFC 8995 sections 5.2, 5.5, 5.6).
const MediaTypeVoucherCMS = "application/voucher-cms+json"

// MediaTypeVoucherJWS is application/voucher-jws+json
// (draft-ietf-anima-jws-voucher): a JSON voucher or voucher-request as the
// payload of a JWS in the General JSON Serialization (jws.go).
const MediaTypeVoucherJWS = "application/voucher-jws+json"

// MediaTypeVoucherCOSE is application/voucher+cose
// (draft-ietf-anima-constrained-voucher): a SID-keyed CBOR voucher or
// voucher-request in a COSE_Sign1 (cose.go). Over CoAP it is Content-Format
// ContentFormatVoucherCOSE.
const MediaTypeVoucherCOSE = "application/voucher+cose"

// ContentFormatVoucherCOSE is the CoAP Content-Format of
// application/voucher+cose.
const ContentFormatVoucherCOSE = 836

// The BRSKI well-known resources (RFC 8995 section 5). A pledge calls
// requestvoucher, voucher_status and enrollstatus on its registrar; a
// registrar calls requestvoucher and requestauditlog on the MASA.
const (
	// PathPrefix is the BRSKI well-known URI (RFC 8995 section 5).
	PathPrefix = "/.well-known/brski"
	// PathRequestVoucher: pledge to registrar (RFC 8995 5.2), registrar
	// to MASA (5.5).
	PathRequestVoucher = PathPrefix + "/requestvoucher"
	// PathVoucherStatus: the pledge's voucher status telemetry (5.7).
	PathVoucherStatus = PathPrefix + "/voucher_status"
	// PathEnrollStatus: the pledge's enrollment status telemetry (5.9.4).
	PathEnrollStatus = PathPrefix + "/enrollstatus"
	// PathRequestAuditLog: registrar to MASA, the audit log (5.8).
	PathRequestAuditLog = PathPrefix + "/requestauditlog"
)
