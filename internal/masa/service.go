package masa

import (
	"crypto/x509"
	"errors"
	"log/slog"
	"time"
)

// Service is the MASA. Its methods are safe for concurrent use.
type Service struct {
	cfg    Config
	store  Store
	clock  func() time.Time
	log    *slog.Logger
	caPool *x509.CertPool
	chains *chainMemo // registrar chains verified in the last seconds
}

// New assembles the MASA from cfg, every unset option at its production
// default. It is the one constructor `masa serve`, its one-shot commands
// and the sandbox call.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Signer == nil || cfg.IDevIDCA == nil {
		return nil, errors.New("masa: Config needs Store, Signer and IDevIDCA")
	}
	cfg = cfg.withDefaults()
	if s := cfg.Signer.Cert; s != nil && !s.Equal(cfg.IDevIDCA) && s.CheckSignatureFrom(cfg.IDevIDCA) != nil {
		cfg.Logger.Warn("the voucher-signing certificate is not issued by the IDevID CA; pledges must be given its issuer")
	}
	pool := x509.NewCertPool()
	pool.AddCert(cfg.IDevIDCA)
	return &Service{cfg: cfg, store: cfg.Store, clock: cfg.Clock, log: cfg.Logger, caPool: pool, chains: &chainMemo{}}, nil
}

// Config returns the configuration the service runs with, defaults
// applied.
func (s *Service) Config() Config { return s.cfg }

// Store returns the service's store (for the admin API's plain queries).
func (s *Service) Store() Store { return s.store }
