package pledge

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/oscore"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// Config describes one device and how it reaches its registrar.
type Config struct {
	// RegistrarURL is the registrar's base URL: the load balancer for the
	// ATLS modes (its ATLS path is appended), the direct listener
	// (https://host:8443) for ModeDirect.
	RegistrarURL string
	// ATLSPath overrides atls.DefaultPath.
	ATLSPath string
	Mode     string
	// IDevID is the device's certificate (leaf first, then any
	// intermediates) and key.
	IDevID tls.Certificate
	// ManufacturerAnchors verify the voucher's signer (the MASA), with
	// MASACerts supplied out of band when the voucher does not carry them
	// (a COSE voucher reaches the pledge without the MASA's certificate).
	ManufacturerAnchors *x509.CertPool
	MASACerts           []*x509.Certificate
	// VoucherFormat is the signature format of the pledge voucher-request
	// and of the voucher asked for (the Accept header): CMS (the zero
	// value, RFC 8995), JWS or COSE.
	VoucherFormat voucher.Format
	// Constrained runs the constrained flow (constrained.go): the cBRSKI
	// and EST-coaps resources with COSE, CBOR and DER payloads, in one of
	// ConstrainedModes. Its voucher format is COSE: VoucherFormat must be
	// COSE or left at its zero value.
	Constrained bool
	// HTTP carries ATLS flights (through proxies and TLS-terminating load
	// balancers); nil means http.DefaultClient. Unused by ModeDirect.
	HTTP *http.Client
	// RequestTimeout bounds each request; default 60 s.
	RequestTimeout time.Duration
	// MaxWait bounds the time spent honouring Retry-After over the whole
	// onboarding; default 5 minutes. MaxRetries bounds the retries of one
	// step; default 10.
	MaxWait    time.Duration
	MaxRetries int
	// Now is the pledge's clock; zero-time voucher checks use the CMS
	// signing time, as a pledge without a clock would.
	Now func() time.Time
	// Progress, when set, hears every step as it ends.
	Progress func(Step)
	// Sleep waits between retries; tests replace it. Default: a timer that
	// honours the context.
	Sleep func(d time.Duration) <-chan time.Time
	// EnrollKey is the key the domain certificate is requested for; nil
	// makes a fresh P-256 key. OnboardRetrying keeps one key across its
	// attempts, so that a repeated enrollment gets the same certificate.
	EnrollKey *ecdsa.PrivateKey
}

func (c *Config) atlsPath() string {
	if c.ATLSPath != "" {
		return c.ATLSPath
	}
	return atls.DefaultPath
}

func (c *Config) requestTimeout() time.Duration {
	if c.RequestTimeout > 0 {
		return c.RequestTimeout
	}
	return 60 * time.Second
}

// checkVoucherFormat refuses, before any connection, a voucher format the
// mode cannot carry: atls-oscore maps media types to CoAP Content-Formats
// (profile 5.6), whose table has none for application/voucher-jws+json.
func (c *Config) checkVoucherFormat() error {
	if c.Mode != ModeATLSOSCORE && c.Mode != ModeCoAPOSCORE {
		return nil
	}
	if _, ok := oscore.ContentFormat(c.VoucherFormat.MediaType()); !ok {
		return fmt.Errorf("pledge: %s vouchers cannot travel in %s mode: the profile's Content-Format table (5.6) has no entry for %s",
			c.VoucherFormat, c.Mode, c.VoucherFormat.MediaType())
	}
	return nil
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Step is one step of the onboarding, as it ended.
type Step struct {
	Name     string
	Detail   string
	Duration time.Duration
	Err      error
}
