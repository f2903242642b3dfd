package masa

import (
	"crypto"
	"crypto/x509"
	"errors"
	"log/slog"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// Config is everything a Service needs; New fills in defaults.
type Config struct {
	Store Store
	// Signer signs vouchers (RFC 8366 section 5.4).
	Signer *voucher.Signer
	// IDevIDCA is the manufacturer's IDevID CA: pledge voucher-requests must
	// be signed by a certificate it issued, and IssueIDevID signs with it.
	IDevIDCA *x509.Certificate
	// IDevIDKey signs IDevIDs; nil disables IssueIDevID.
	IDevIDKey crypto.Signer
	// MASAURL goes into every issued IDevID (RFC 8995 section 2.3.2).
	MASAURL string
	// Clock is the time source; time.Now by default.
	Clock func() time.Time
	// RetryAfter is the delay sent with a 202 (RFC 8995 5.6); 60 s by default.
	RetryAfter time.Duration
	// RequireRegistrarTLS demands of every voucher-request a TLS client
	// certificate chaining to the owner's domain CA, not only of nonceless
	// ones (RFC 8995 5.5.6 leaves this to the MASA).
	RequireRegistrarTLS bool
	// AuditLogLimit caps the events of one audit log (RFC 8995 5.8.1); 1024.
	AuditLogLimit int
	Logger        *slog.Logger
}

// Service is the MASA. Its methods are safe for concurrent use.
type Service struct {
	cfg    Config
	store  Store
	clock  func() time.Time
	log    *slog.Logger
	caPool *x509.CertPool
}

// New builds a Service from cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Signer == nil || cfg.IDevIDCA == nil {
		return nil, errors.New("masa: Config needs Store, Signer and IDevIDCA")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 60 * time.Second
	}
	if cfg.AuditLogLimit <= 0 {
		cfg.AuditLogLimit = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cfg.IDevIDCA)
	return &Service{cfg: cfg, store: cfg.Store, clock: cfg.Clock, log: cfg.Logger, caPool: pool}, nil
}

// Store returns the service's store (for the admin API's plain queries).
func (s *Service) Store() Store { return s.store }
