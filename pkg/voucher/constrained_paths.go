package voucher

// The cBRSKI short resource names (draft-ietf-anima-constrained-voucher,
// "CoAP Resources Table"): the constrained pledge's requestvoucher,
// voucher_status and enrollstatus, under the same well-known prefix. Their
// payloads are a COSE voucher-request and voucher (Content-Format 836) and
// CBOR status telemetry (Content-Format 60).
const (
	// PathConstrainedVoucherRequest is /rv (cBRSKI requestvoucher).
	PathConstrainedVoucherRequest = PathPrefix + "/rv"
	// PathConstrainedVoucherStatus is /vs (cBRSKI voucher_status).
	PathConstrainedVoucherStatus = PathPrefix + "/vs"
	// PathConstrainedEnrollStatus is /es (cBRSKI enrollstatus).
	PathConstrainedEnrollStatus = PathPrefix + "/es"
)
