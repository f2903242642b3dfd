package enroll

// The EST-coaps short resource names (RFC 9148 section 5.1, Table 1),
// under the same /.well-known/est prefix as RFC 7030's. Their payloads are
// binary DER, never base64 (RFC 9148 section 5.3).
const (
	// PathCoapsCACerts is /crts (RFC 7030 cacerts).
	PathCoapsCACerts = DefaultPathPrefix + "/crts"
	// PathCoapsSimpleEnroll is /sen (simpleenroll).
	PathCoapsSimpleEnroll = DefaultPathPrefix + "/sen"
	// PathCoapsSimpleReenroll is /sren (simplereenroll).
	PathCoapsSimpleReenroll = DefaultPathPrefix + "/sren"
	// PathCoapsCSRAttrs is /att (csrattrs).
	PathCoapsCSRAttrs = DefaultPathPrefix + "/att"
)
