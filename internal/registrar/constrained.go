package registrar

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/oscore"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// The constrained BRSKI resources (draft-ietf-anima-constrained-voucher,
// cBRSKI) and EST-coaps (RFC 9148): the short-named resources a
// constrained pledge calls, reached through OSCORE (profile 5 over HTTP,
// 7.8 over CoAP) or direct TLS. Each runs the same code as its long-named
// HTTP sibling (admission, MASA relay, telemetry records, the enrollment
// gate and CA policy) and differs only in the payloads it takes and gives:
// COSE vouchers, CBOR telemetry and binary DER, chosen by Content-Format.

// CoAP Content-Formats the constrained resources speak. The profile's table
// (5.6, pkg/oscore) maps most of them to media types; link-format (40) and
// multipart-core (62) are not in it, so they travel only where the carrier
// knows them (direct TLS; native CoAP once its table has them).
const (
	cfLinkFormat    = 40
	cfJSON          = 50
	cfCBOR          = 60
	cfMultipartCore = 62
	cfCertsOnly     = 281
	cfCSRAttrs      = 285
	cfPKCS10        = 286
	cfPKIXCert      = 287
	cfVoucherCOSE   = voucher.ContentFormatVoucherCOSE
)

// Media types of the Content-Formats above that the profile's table lacks.
const (
	mediaLinkFormat    = "application/link-format"
	mediaMultipartCore = "application/multipart-core"
	mediaPKIXCert      = "application/pkix-cert"
)

// constrainedRoutes registers the cBRSKI and EST-coaps resources and
// /.well-known/core on the device router. The EST-coaps names are static
// routes, which chi prefers to the RFC 7030 catch-all of the same prefix.
func (rg *Registrar) constrainedRoutes(r chi.Router) {
	r.Post(voucher.PathConstrainedVoucherRequest, rg.constrainedRequestVoucher)
	r.Post(voucher.PathConstrainedVoucherStatus, rg.constrainedVoucherStatus)
	r.Post(voucher.PathConstrainedEnrollStatus, rg.constrainedEnrollStatus)
	est := estPeer(rg.est)
	r.Get(enroll.PathCoapsCACerts, rg.estCoaps(est, coapsCACerts))
	r.Get(enroll.PathCoapsCSRAttrs, rg.estCoaps(est, coapsCSRAttrs))
	r.Post(enroll.PathCoapsSimpleEnroll, rg.estCoaps(est, coapsSimpleEnroll))
	r.Post(enroll.PathCoapsSimpleReenroll, rg.estCoaps(est, coapsSimpleReenroll))
	r.Get(pathCore, rg.wellKnownCore)
}

// constrainedRequestVoucher is cBRSKI /rv: a COSE-signed pledge
// voucher-request (Content-Format 836) answered with a COSE voucher (836),
// the only format the draft defines for it. Anything else is 415 or 406
// before the request is read; then it is requestvoucher's exchange, its
// admission, records and MASA relay (requestVoucher).
func (rg *Registrar) constrainedRequestVoucher(w http.ResponseWriter, r *http.Request) {
	if cf, ok := contentFormatOf(r.Header.Get("Content-Type")); !ok || cf != cfVoucherCOSE {
		rg.fail(w, r, &httpError{http.StatusUnsupportedMediaType, "/rv takes application/voucher+cose (Content-Format 836)"})
		return
	}
	if _, ok := negotiateContentFormat(r.Header.Get("Accept"), cfVoucherCOSE); !ok {
		rg.fail(w, r, &httpError{http.StatusNotAcceptable, "/rv answers application/voucher+cose (Content-Format 836) only"})
		return
	}
	r.Header.Set("Accept", voucher.MediaTypeVoucherCOSE)
	rg.requestVoucher(w, r)
}

// contentFormatOf maps a media type to its CoAP Content-Format: the
// profile's table (5.6) first, then the two the constrained resources add.
func contentFormatOf(mediaType string) (uint32, bool) {
	if cf, ok := oscore.ContentFormat(mediaType); ok {
		return cf, true
	}
	n, err := oscore.NormalizeMediaType(mediaType)
	if err != nil {
		return 0, false
	}
	switch n {
	case mediaLinkFormat:
		return cfLinkFormat, true
	case mediaMultipartCore:
		return cfMultipartCore, true
	}
	return 0, false
}

// negotiateContentFormat picks the answer's Content-Format from an Accept
// header: none (or */*) takes the resource's default, offered[0]; a list
// takes the first offered one it names, skipping q=0. Over CoAP Accept is
// a single Content-Format (RFC 7252 5.10.4); over HTTP it may be a list.
func negotiateContentFormat(accept string, offered ...uint32) (uint32, bool) {
	accept = strings.TrimSpace(accept)
	if accept == "" || accept == "*/*" {
		return offered[0], true
	}
	for _, item := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(item))
		if err != nil {
			continue
		}
		if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q == 0 {
			continue
		}
		if mt == "*/*" {
			return offered[0], true
		}
		delete(params, "q")
		cf, ok := contentFormatOf(mime.FormatMediaType(mt, params))
		if !ok {
			continue
		}
		for _, o := range offered {
			if o == cf {
				return cf, true
			}
		}
	}
	return 0, false
}
