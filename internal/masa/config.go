package masa

import (
	"crypto"
	"crypto/x509"
	"log/slog"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// Production defaults of the options a Config leaves unset.
var (
	// DefaultVoucherContentType is the eContentType of issued vouchers:
	// id-ct-animaJSONVoucher (RFC 8366 section 5.4, RFC 8995 section 3.4).
	DefaultVoucherContentType = voucher.OIDAnimaJSONVoucher
)

const (
	// DefaultRetryAfter is the delay sent with a 202 (RFC 8995 5.6).
	DefaultRetryAfter = 60 * time.Second
	// DefaultAuditLogLimit caps the events of one audit log (RFC 8995 5.8.1).
	DefaultAuditLogLimit = 1024
)

// Config is everything New needs to assemble a MASA. Every optional field
// left zero takes its production default, so that `masa serve` with its
// default options and the sandbox run the same MASA: both start from
// ConfigFromKeys and call New.
type Config struct {
	Store Store
	// Signer signs vouchers (RFC 8366 section 5.4); a nil ContentType is
	// DefaultVoucherContentType.
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
	// RetryAfter is the delay sent with a 202 (RFC 8995 5.6);
	// DefaultRetryAfter by default.
	RetryAfter time.Duration
	// RequireRegistrarTLS demands of every voucher-request a TLS client
	// certificate chaining to the owner's domain CA, not only of nonceless
	// ones (RFC 8995 5.5.6 leaves this to the MASA).
	RequireRegistrarTLS bool
	// AuditLogLimit caps the events of one audit log (RFC 8995 5.8.1);
	// DefaultAuditLogLimit by default.
	AuditLogLimit int
	// Logger receives the service's log; discarded by default.
	Logger *slog.Logger
}

// ConfigFromKeys is the production configuration of a MASA keeping its
// state in store, with the key material `masa init` writes: pledges'
// IDevIDs are checked against, and issued by, the IDevID CA of keys;
// vouchers are signed by its voucher signer with
// DefaultVoucherContentType; every other option is its default.
func ConfigFromKeys(store Store, keys *Keys, masaURL string) Config {
	return Config{
		Store:     store,
		Signer:    &voucher.Signer{Cert: keys.SignerCert, Key: keys.SignerKey, ContentType: DefaultVoucherContentType},
		IDevIDCA:  keys.CACert,
		IDevIDKey: keys.CAKey,
		MASAURL:   masaURL,
	}
}

// withDefaults returns c with every unset optional field at its default.
// It copies the signer rather than change the caller's.
func (c Config) withDefaults() Config {
	if c.Signer != nil && c.Signer.ContentType == nil {
		s := *c.Signer
		s.ContentType = DefaultVoucherContentType
		c.Signer = &s
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.AuditLogLimit <= 0 {
		c.AuditLogLimit = DefaultAuditLogLimit
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
