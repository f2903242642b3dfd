package registrar

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/oscore"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// pathCore is CoRE resource discovery (RFC 6690 section 4, RFC 7252 7.2).
const pathCore = "/.well-known/core"

// coreLink is one link of /.well-known/core: its target and the rt and ct
// attributes the constrained-voucher draft ("Pledge Discovery Query", IANA
// rt= registrations brski, brski.rv, brski.vs, brski.es) and RFC 9148
// (section 4.1: ace.est, ace.est.crts, .sen, .sren, .att) give it.
type coreLink struct {
	href, rt string
	ct       []string
}

var coreLinks = []coreLink{
	{voucher.PathPrefix, "brski", nil},
	{voucher.PathConstrainedVoucherRequest, "brski.rv", []string{"836"}},
	{voucher.PathConstrainedVoucherStatus, "brski.vs", []string{"50", "60"}},
	{voucher.PathConstrainedEnrollStatus, "brski.es", []string{"50", "60"}},
	{enroll.DefaultPathPrefix, "ace.est", nil},
	{enroll.PathCoapsCACerts, "ace.est.crts", []string{"62", "281", "287"}},
	{enroll.PathCoapsSimpleEnroll, "ace.est.sen", []string{"281", "287"}},
	{enroll.PathCoapsSimpleReenroll, "ace.est.sren", []string{"281", "287"}},
	{enroll.PathCoapsCSRAttrs, "ace.est.att", []string{"285"}},
}

// String is the link in CoRE Link Format (RFC 6690 section 2): several ct
// values in one quoted, space-separated attribute, as the draft writes
// them.
func (l coreLink) String() string {
	s := "<" + l.href + ">;rt=" + l.rt
	switch len(l.ct) {
	case 0:
	case 1:
		s += ";ct=" + l.ct[0]
	default:
		s += `;ct="` + strings.Join(l.ct, " ") + `"`
	}
	return s
}

// matches is RFC 6690 section 4.1 query filtering: name=value, a value
// ending in "*" matching as a prefix, an attribute of several values
// matching when any of them does; an attribute the link lacks does not
// match.
func (l coreLink) matches(name, value string) bool {
	var values []string
	switch name {
	case "href":
		values = []string{l.href}
	case "rt":
		values = []string{l.rt}
	case "ct":
		values = l.ct
	}
	prefix, wildcard := strings.CutSuffix(value, "*")
	for _, v := range values {
		if v == value || (wildcard && strings.HasPrefix(v, prefix)) {
			return true
		}
	}
	return false
}

// wellKnownCore answers discovery with the constrained resources in
// application/link-format (Content-Format 40), filtered by the query.
//
// The profile's Content-Format table (5.6) has no entry for link-format:
// over OSCORE inside HTTP the answer could only be a 5.00 (5.6: "a server
// whose inner response type has no Content-Format answers 5.00"), so it is
// a 4.06 saying why, and a pledge there uses the well-known names, as the
// draft lets it. Direct TLS gets the document, and so will any OSCORE
// carrier once the table maps it.
func (rg *Registrar) wellKnownCore(w http.ResponseWriter, r *http.Request) {
	if _, ok := negotiateContentFormat(r.Header.Get("Accept"), cfLinkFormat); !ok {
		rg.fail(w, r, &httpError{http.StatusNotAcceptable, "/.well-known/core answers application/link-format (Content-Format 40) only"})
		return
	}
	if p, ok := atls.PeerFromContext(r.Context()); ok && p.Protocol == atls.ProtoOSCORE {
		if _, mapped := oscore.ContentFormat(mediaLinkFormat); !mapped {
			rg.fail(w, r, &httpError{http.StatusNotAcceptable, "application/link-format has no Content-Format in the ATLS profile's table (5.6): use the well-known cBRSKI and EST-coaps names"})
			return
		}
	}
	var filters [][2]string
	if r.URL.RawQuery != "" {
		for _, item := range strings.Split(r.URL.RawQuery, "&") {
			name, value, _ := strings.Cut(item, "=")
			n, err1 := url.PathUnescape(name)
			v, err2 := url.PathUnescape(value)
			if err1 != nil || err2 != nil {
				rg.fail(w, r, &httpError{http.StatusBadRequest, "malformed discovery query"})
				return
			}
			filters = append(filters, [2]string{n, v})
		}
	}
	var out []string
links:
	for _, l := range coreLinks {
		for _, f := range filters {
			if !l.matches(f[0], f[1]) {
				continue links
			}
		}
		out = append(out, l.String())
	}
	w.Header().Set("Content-Type", mediaLinkFormat)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(strings.Join(out, ",")))
}
