package registrar

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/pkg/enroll"
)

// coapsResource is one EST-coaps resource (RFC 9148 section 5): the RFC
// 7030 operation it runs, the Content-Format its request carries (none
// for a GET) and those its answer may take, the default first (RFC 9148
// section 5.3, Table 2; the constrained-voucher draft adds 287 to /sen and
// /sren answers and 62 and 287 to /crts).
type coapsResource struct {
	name      string // the short name, for reasons
	operation string // the RFC 7030 path under the EST prefix
	request   uint32
	answers   []uint32
}

var (
	coapsCACerts        = coapsResource{name: "/crts", operation: "/cacerts", answers: []uint32{cfCertsOnly, cfPKIXCert, cfMultipartCore}}
	coapsCSRAttrs       = coapsResource{name: "/att", operation: "/csrattrs", answers: []uint32{cfCSRAttrs}}
	coapsSimpleEnroll   = coapsResource{name: "/sen", operation: "/simpleenroll", request: cfPKCS10, answers: []uint32{cfCertsOnly, cfPKIXCert}}
	coapsSimpleReenroll = coapsResource{name: "/sren", operation: "/simplereenroll", request: cfPKCS10, answers: []uint32{cfCertsOnly, cfPKIXCert}}
)

// estCoaps serves an EST-coaps resource with the HTTP EST server itself
// (est is estPeer(rg.est)): the request's Content-Format (415) and Accept
// (406) are judged first, then the RFC 7030 operation runs, its gate, CA
// policy and records included, with binary DER answers (RFC 9148 5.3); a
// successful answer is then cut to the Content-Format asked for.
func (rg *Registrar) estCoaps(est http.Handler, res coapsResource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if res.request != 0 {
			if cf, ok := contentFormatOf(r.Header.Get("Content-Type")); !ok || cf != res.request {
				rg.fail(w, r, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("%s takes application/pkcs10 (Content-Format %d)", res.name, res.request)})
				return
			}
		}
		answer, ok := negotiateContentFormat(r.Header.Get("Accept"), res.answers...)
		if !ok {
			rg.fail(w, r, &httpError{http.StatusNotAcceptable, fmt.Sprintf("%s answers Content-Format %s", res.name, formatList(res.answers))})
			return
		}
		buf := &answerBuffer{header: make(http.Header), status: http.StatusOK}
		est.ServeHTTP(buf, estOperation(r, res.operation))
		if buf.status != http.StatusOK {
			buf.relay(w)
			return
		}
		switch answer {
		case cfPKIXCert:
			rg.answerSingleCert(w, r, res, buf.body)
		case cfMultipartCore:
			rg.answerMultipartCerts(w, r, buf.body)
		default:
			buf.relay(w)
		}
	}
}

// estOperation is r addressed to the RFC 7030 operation, asking for DER
// answers, with a routing context of its own for the EST router.
func estOperation(r *http.Request, operation string) *http.Request {
	ctx := enroll.WithBinary(context.WithValue(r.Context(), chi.RouteCtxKey, chi.NewRouteContext()))
	er := r.Clone(ctx)
	er.URL.Path = enroll.DefaultPathPrefix + operation
	er.URL.RawPath = ""
	er.RequestURI = er.URL.RequestURI()
	return er
}

// answerSingleCert is application/pkix-cert (287): for /sen and /sren the
// issued certificate alone; for /crts the one CA certificate that issues
// the pledge's domain certificate, the first of the CA backend's list
// (enroll.CA.CACerts), unless the domain has several trust anchors, which
// one certificate cannot convey (the draft: 4.06).
func (rg *Registrar) answerSingleCert(w http.ResponseWriter, r *http.Request, res coapsResource, body []byte) {
	certs, err := enroll.ParseCertsOnly(body)
	if err != nil {
		rg.fail(w, r, fmt.Errorf("EST answer: %w", err))
		return
	}
	if res.operation == coapsCACerts.operation && countRoots(certs) > 1 {
		rg.fail(w, r, &httpError{http.StatusNotAcceptable, "the domain has several trust anchors: ask /crts for Content-Format 281 or 62"})
		return
	}
	writeBinary(w, mediaPKIXCert, certs[0].Raw)
}

// answerMultipartCerts is /crts as application/multipart-core (RFC 8710;
// the constrained-voucher draft's "Multipart Content-Format for CA
// certificates"): a CBOR array of (287, certificate) pairs in the CA
// hierarchy's order, the issuer of the pledge's domain certificate first,
// which is the CA backend's order.
func (rg *Registrar) answerMultipartCerts(w http.ResponseWriter, r *http.Request, body []byte) {
	certs, err := enroll.ParseCertsOnly(body)
	if err != nil {
		rg.fail(w, r, fmt.Errorf("EST answer: %w", err))
		return
	}
	parts := make([]any, 0, 2*len(certs))
	for _, c := range certs {
		parts = append(parts, uint64(cfPKIXCert), c.Raw)
	}
	out, err := cbor.Marshal(parts)
	if err != nil {
		rg.fail(w, r, err)
		return
	}
	writeBinary(w, mediaMultipartCore, out)
}

func countRoots(certs []*x509.Certificate) int {
	n := 0
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			n++
		}
	}
	return n
}

func writeBinary(w http.ResponseWriter, mediaType string, body []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func formatList(cfs []uint32) string {
	s := ""
	for i, cf := range cfs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(cf)
	}
	return s
}

// answerBuffer holds an inner answer until the EST-coaps resource has
// decided what to send.
type answerBuffer struct {
	header http.Header
	status int
	body   []byte
	wrote  bool
}

func (b *answerBuffer) Header() http.Header { return b.header }

func (b *answerBuffer) WriteHeader(status int) {
	if !b.wrote {
		b.status, b.wrote = status, true
	}
}

func (b *answerBuffer) Write(p []byte) (int, error) {
	b.wrote = true
	b.body = append(b.body, p...)
	return len(p), nil
}

// relay sends the buffered answer as it is.
func (b *answerBuffer) relay(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	w.Write(b.body)
}
