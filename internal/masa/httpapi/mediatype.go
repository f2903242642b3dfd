package httpapi

import (
	"mime"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// Media types of RFC 8995 and RFC 8366.
const (
	MediaVoucherCMS = voucher.MediaTypeVoucherCMS
	MediaJSON       = adminapi.MediaJSON
	MediaCSV        = adminapi.MediaCSV
)

// contentTypeIs reports whether the Content-Type header names want.
func contentTypeIs(header, want string) bool {
	mt, _, err := mime.ParseMediaType(header)
	return err == nil && mt == want
}

// accepts reports whether an Accept header admits the media type offer
// (adminapi.Accepts, the one negotiation rule of both listeners).
func accepts(header, offer string) bool { return adminapi.Accepts(header, offer) }
