package httpapi

import (
	"mime"
	"strconv"
	"strings"
)

// Media types of RFC 8995 and RFC 8366.
const (
	MediaVoucherCMS = "application/voucher-cms+json"
	MediaJSON       = "application/json"
	MediaCSV        = "text/csv"
)

// contentTypeIs reports whether the Content-Type header names want.
func contentTypeIs(header, want string) bool {
	mt, _, err := mime.ParseMediaType(header)
	return err == nil && mt == want
}

// accepts reports whether an Accept header admits the media type offer:
// no header admits anything; otherwise some range with q > 0 must match.
func accepts(header, offer string) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	typ, _, _ := strings.Cut(offer, "/")
	for _, part := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
				continue
			}
		}
		if mt == "*/*" || mt == offer || mt == typ+"/*" {
			return true
		}
	}
	return false
}
