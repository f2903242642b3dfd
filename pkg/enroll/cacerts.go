package enroll

import (
	"net/http"
)

// serveCACerts answers GET /cacerts (RFC 7030 section 4.1): the CA
// certificates as certs-only, no authentication required by default
// (section 4.1.1: the server SHOULD NOT require it; the client
// authenticates the CA out of band, in BRSKI through the voucher's
// pinned-domain-cert, RFC 8995 section 5.9.1).
func (s *Server) serveCACerts(w http.ResponseWriter, r *http.Request) {
	if _, err := label(r); err != nil {
		s.fail(w, r, OpCACerts, err)
		return
	}
	if s.requireAuthGet && len(PeerFromRequest(r).Chain) == 0 {
		s.fail(w, r, OpCACerts, errUnauthenticated)
		return
	}
	certs, err := s.ca.CACerts(r.Context())
	if err != nil {
		s.fail(w, r, OpCACerts, err)
		return
	}
	der, err := EncodeCertsOnly(certs)
	if err != nil {
		s.fail(w, r, OpCACerts, err)
		return
	}
	s.writeDER(w, r, MediaTypeCertsOnly, der)
}
