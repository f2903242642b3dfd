package enroll

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// DefaultMaxBodySize caps request bodies; larger requests get 413.
const DefaultMaxBodySize = 64 << 10

// DefaultPathPrefix is where RFC 7030 section 3.2.2 puts EST.
const DefaultPathPrefix = "/.well-known/est"

// Operation names an EST operation (RFC 7030 section 3.2.2, table 1).
type Operation string

// The EST operations.
const (
	OpCACerts        Operation = "cacerts"
	OpCSRAttrs       Operation = "csrattrs"
	OpSimpleEnroll   Operation = "simpleenroll"
	OpSimpleReenroll Operation = "simplereenroll"
	OpServerKeyGen   Operation = "serverkeygen"
)

// AuthzRequest is what the Policy callback decides on.
type AuthzRequest struct {
	Operation Operation
	Label     string // additional path segment, "" if none
	Peer      Peer   // authenticated client (chain non-empty)
	CSR       *x509.CertificateRequest
	// Renewing is the certificate being renewed (simplereenroll only).
	Renewing *x509.Certificate
	// Names are the names the certificate will carry, from the NamePolicy
	// (nil when the NamePolicy itself is being asked).
	Names *CertificateNames
	// SubjectChange is set on simplereenroll when the names the NamePolicy
	// gives differ from Renewing's (RFC 7030 section 4.2.2 keeps subject
	// and subjectAltNames on renewal; the policy may have changed since,
	// e.g. a new SAN template). The server refuses such requests itself
	// unless built with WithReenrollSubjectChange, and then the Policy
	// decides.
	SubjectChange bool
}

// Policy decides whether the authenticated device may perform the operation
// now. It returns nil to allow, ErrPending for "not yet, retry later" (202),
// ErrForbidden or any *Error for a refusal; other errors become 500.
// The registrar's policy looks the device up (accepted voucher, operator
// approval) by the IDevID in req.Peer.
type Policy func(ctx context.Context, req *AuthzRequest) error

// AllowAuthenticated is a Policy that lets every authenticated client
// enroll and refuses subject changes on re-enrollment. For tests and
// closed deployments.
func AllowAuthenticated(_ context.Context, req *AuthzRequest) error {
	if req.SubjectChange {
		return ErrForbidden("re-enrollment must keep subject and subjectAltName")
	}
	return nil
}

// Issuance is the record of one issued certificate, handed to the
// WithIssuedHook callback for the registrar to store.
type Issuance struct {
	Operation    Operation
	Label        string
	SerialNumber *big.Int
	Subject      pkix.Name
	NotBefore    time.Time
	NotAfter     time.Time
	// Device is the authenticated client certificate: the IDevID on
	// simpleenroll and serverkeygen, the certificate being renewed on
	// simplereenroll.
	Device      *x509.Certificate
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
}

// IssuedHook receives each issuance before the response is sent. An error
// turns the response into a 500 and the certificate is not delivered.
type IssuedHook func(ctx context.Context, rec *Issuance) error

// CSRAttrsFunc computes the csrattrs response per request, for registrars
// that tailor it to the device (e.g. an RFC 8994 ACP address SAN). It
// receives the Peer, which may be unauthenticated.
type CSRAttrsFunc func(ctx context.Context, label string, peer Peer) ([]CSRAttr, error)

// Server serves EST. Build it with NewServer; it is an http.Handler.
type Server struct {
	ca             CA
	policy         Policy
	names          NamePolicy
	csrPolicy      *CSRPolicy
	csrAttrsFunc   CSRAttrsFunc
	emptyAttrs     int
	maxBody        int64
	binary         bool
	omitCTE        bool
	includeChain   bool
	issued         IssuedHook
	prefix         string
	log            *slog.Logger
	now            func() time.Time
	router         chi.Router
	requireAuthGet bool
	subjectChange  bool
}

// Option configures a Server.
type Option func(*Server)

// WithPolicy sets the authorization callback. Required.
func WithPolicy(p Policy) Option { return func(s *Server) { s.policy = p } }

// WithCSRPolicy sets the CSR rules and the csrattrs they produce. Default:
// an empty policy (DefaultKeyTypes, default extensions, nothing required).
func WithCSRPolicy(p *CSRPolicy) Option { return func(s *Server) { s.csrPolicy = p } }

// WithCSRAttrsFunc replaces the csrattrs derived from the CSRPolicy.
func WithCSRAttrsFunc(f CSRAttrsFunc) Option { return func(s *Server) { s.csrAttrsFunc = f } }

// WithEmptyCSRAttrsStatus chooses 204 (default) or 404 for an empty
// csrattrs response (RFC 7030 section 4.5.2).
func WithEmptyCSRAttrsStatus(status int) Option {
	return func(s *Server) { s.emptyAttrs = status }
}

// WithMaxBodySize caps request bodies (default DefaultMaxBodySize).
func WithMaxBodySize(n int64) Option { return func(s *Server) { s.maxBody = n } }

// WithBinaryResponses makes every response raw DER instead of base64, for a
// Server mounted behind a binary-only binding. Per request, WithBinary on
// the request context does the same.
func WithBinaryResponses() Option { return func(s *Server) { s.binary = true } }

// HeaderTransferEncoding is the header RFC 7030 section 4 puts on every
// base64 body: "Content-Transfer-Encoding: base64". RFC 8951 (errata 5107)
// drops it from the HTTP encoding but says servers SHOULD omit it only when
// they know a priori that clients do not rely on it; clients written to RFC
// 7030 before its errata refuse a body without it.
const HeaderTransferEncoding = "Content-Transfer-Encoding"

// WithoutTransferEncoding omits "Content-Transfer-Encoding: base64" from
// base64 responses and serverkeygen parts. By default the server sends it,
// since RFC 7030 clients that predate RFC 8951 require it and RFC 8951
// clients ignore it. Raw DER responses never carry it.
func WithoutTransferEncoding() Option { return func(s *Server) { s.omitCTE = true } }

// WithChainInEnrollResponse adds the issuing CA chain (without the root)
// after the new certificate in enrollment responses. By default the
// response holds only the issued certificate, as RFC 7030 section 4.2.3
// describes; clients get the chain from /cacerts.
func WithChainInEnrollResponse() Option { return func(s *Server) { s.includeChain = true } }

// WithIssuedHook sets the callback that records issued certificates.
func WithIssuedHook(h IssuedHook) Option { return func(s *Server) { s.issued = h } }

// WithPathPrefix sets the path under which the operations live (default
// DefaultPathPrefix). Use "" when mounting the Server under a router that
// strips the prefix.
func WithPathPrefix(p string) Option { return func(s *Server) { s.prefix = p } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithAuthenticatedCACerts requires a client chain for /cacerts and
// /csrattrs too (RFC 7030 sections 4.1.1 and 4.5.1 say SHOULD NOT, so off by
// default).
func WithAuthenticatedCACerts() Option { return func(s *Server) { s.requireAuthGet = true } }

// WithReenrollSubjectChange lets simplereenroll requests that change the
// subject or subjectAltNames reach the Policy (AuthzRequest.SubjectChange
// set) instead of being refused with 403.
func WithReenrollSubjectChange() Option { return func(s *Server) { s.subjectChange = true } }

// withClock is for tests.
func withClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// NewServer returns an EST server backed by ca. WithPolicy is required:
// without it every enrollment would be allowed.
func NewServer(ca CA, opts ...Option) (*Server, error) {
	s := &Server{
		ca:         ca,
		emptyAttrs: http.StatusNoContent,
		maxBody:    DefaultMaxBodySize,
		prefix:     DefaultPathPrefix,
		log:        slog.Default(),
		now:        time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	switch {
	case ca == nil:
		return nil, errors.New("enroll: NewServer needs a CA")
	case s.policy == nil:
		return nil, errors.New("enroll: NewServer needs WithPolicy")
	case s.emptyAttrs != http.StatusNoContent && s.emptyAttrs != http.StatusNotFound:
		return nil, fmt.Errorf("enroll: empty csrattrs status must be 204 or 404, not %d", s.emptyAttrs)
	case s.maxBody <= 0:
		return nil, errors.New("enroll: max body size must be positive")
	}
	if s.csrPolicy == nil {
		s.csrPolicy = &CSRPolicy{}
	}
	if s.names == nil {
		s.names = SerialNumberNames()
	}
	if _, err := s.csrPolicy.CSRAttrs(); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	if s.prefix != "" && (!strings.HasPrefix(s.prefix, "/") || strings.HasSuffix(s.prefix, "/")) {
		return nil, fmt.Errorf("enroll: path prefix %q must start and not end with /", s.prefix)
	}
	r := chi.NewRouter()
	mount := func(r chi.Router) {
		s.Routes(r)
		r.Route("/{label}", s.Routes)
	}
	if s.prefix == "" {
		mount(r)
	} else {
		r.Route(s.prefix, mount)
	}
	s.router = r
	return s, nil
}

// Routes registers the EST operations on r, relative to it. NewServer
// mounts them under the prefix with and without the label segment; use
// Routes directly to mount them elsewhere.
func (s *Server) Routes(r chi.Router) {
	r.Get("/cacerts", s.serveCACerts)
	r.Get("/csrattrs", s.serveCSRAttrs)
	r.Get("/csrattributes", s.serveCSRAttrs) // alias some pledges use
	r.Post("/simpleenroll", s.serveSimpleEnroll)
	r.Post("/simplereenroll", s.serveSimpleReenroll)
	r.Post("/serverkeygen", s.serveServerKeyGen)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.router.ServeHTTP(w, r)
}

// labelPattern is the additional path segment of RFC 7030 section 3.2.2: a
// single segment; restricted to RFC 3986 unreserved characters.
var labelPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,64}$`)

// label returns the request's additional path segment, or an error when it
// is not acceptable.
func label(r *http.Request) (string, error) {
	l := chi.URLParam(r, "label")
	if l == "" {
		return "", nil
	}
	if !labelPattern.MatchString(l) || l == "." || l == ".." {
		return "", &Error{Status: http.StatusNotFound, Reason: "unknown label"}
	}
	return l, nil
}

// readBody reads at most s.maxBody bytes; more is a 413.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newError(http.StatusRequestEntityTooLarge, err, "request body larger than %d bytes", s.maxBody)
		}
		return nil, newError(http.StatusBadRequest, err, "cannot read request body")
	}
	return body, nil
}

// binaryFor reports whether the response to r is raw DER.
func (s *Server) binaryFor(r *http.Request) bool {
	return s.binary || binaryFromContext(r.Context())
}

// writeDER writes der with contentType, base64-encoded unless binary.
func (s *Server) writeDER(w http.ResponseWriter, r *http.Request, contentType string, der []byte) {
	body := der
	if !s.binaryFor(r) {
		body = encodeBase64Lines(der)
		if !s.omitCTE {
			w.Header().Set(HeaderTransferEncoding, "base64")
		}
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// fail logs and writes err.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, op Operation, err error) {
	if status, _, reason := answerOf(err); status < 500 {
		s.log.InfoContext(r.Context(), "est request refused", "op", op, "status", status, "reason", reason, "err", err)
	} else {
		s.log.ErrorContext(r.Context(), "est request failed", "op", op, "status", status, "err", err)
	}
	writeError(w, err)
}
