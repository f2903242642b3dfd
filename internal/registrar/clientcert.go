package registrar

import (
	"net/http"
	"regexp"

	"github.com/landfall-io/landfall/pkg/enroll"
)

// anonymousCACerts is the one device resource a client without a
// certificate may reach: GET /cacerts, with or without the additional path
// segment of RFC 7030 section 3.2.2 (the same characters pkg/enroll
// accepts in it).
var anonymousCACerts = regexp.MustCompile(`^` + regexp.QuoteMeta(enroll.DefaultPathPrefix) + `(/[A-Za-z0-9._~-]{1,64})?/cacerts$`)

// requireClientCert is the front gate of the device routes. The direct
// listener lets a TLS client without a certificate finish its handshake
// (DirectTLSConfig) so that it can fetch /cacerts, which RFC 7030 section
// 4.1.1 says SHOULD NOT require client authentication. Every other request
// without a client certificate is refused here with 401, before it reaches
// any handler, so that no BRSKI or EST handler (or a route added later)
// depends on checking for itself. The gate allowlists by the raw request
// line: a path the router would read differently (an escaped RawPath) or
// another method is not the anonymous resource. ATLS inner sessions always
// carry a certificate (the ATLS server requires one); the gate applies to
// them unchanged.
func (rg *Registrar) requireClientCert(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if chain, _, _, _ := rg.sessionOf(r); len(chain) == 0 && !isAnonymousCACerts(r) {
			rg.fail(w, r, &httpError{http.StatusUnauthorized, "no client certificate: the pledge must present its IDevID (only /cacerts is served without one)"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isAnonymousCACerts(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.RawPath == "" && anonymousCACerts.MatchString(r.URL.Path)
}
