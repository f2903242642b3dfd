package voucher

import (
	"mime"
	"strconv"
	"strings"
)

// Formats are the three signature formats in the order a server offers
// them when a client's Accept does not admit the request's own.
var Formats = []Format{FormatCMS, FormatJWS, FormatCOSE}

// NegotiateFormat picks the format of the voucher that answers a request
// signed in format req, given the request's Accept header and the formats
// the answering side can produce (offers). RFC 8995 5.2 and 5.5 pair each
// voucher-request media type with the voucher of the same type, so req is
// the answer whenever Accept admits it: Accept absent, */*, application/*
// or naming req's media type. Otherwise the first of offers that Accept
// names is the answer. ok is false when Accept admits nothing offered,
// which RFC 8995 5.6 answers 406 Not Acceptable. A media range with q=0 is
// a refusal and admits nothing.
func NegotiateFormat(accept string, req Format, offers []Format) (f Format, ok bool) {
	offered := func(f Format) bool {
		for _, o := range offers {
			if o == f {
				return true
			}
		}
		return false
	}
	if offered(req) && acceptsMediaType(accept, req.MediaType()) {
		return req, true
	}
	for _, o := range offers {
		if acceptsMediaType(accept, o.MediaType()) {
			return o, true
		}
	}
	return 0, false
}

// acceptsMediaType reports whether an Accept header admits mediaType: an
// empty header admits everything (RFC 9110 12.5.1).
func acceptsMediaType(accept, mediaType string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	typ, _, _ := strings.Cut(mediaType, "/")
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		if mt == "*/*" || mt == typ+"/*" || mt == mediaType {
			return true
		}
	}
	return false
}

// MediaTypes names formats by their media types, for a 406 or 415 reason.
func MediaTypes(formats []Format) string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.MediaType()
	}
	return strings.Join(names, ", ")
}
