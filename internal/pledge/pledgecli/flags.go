// Package pledgecli holds the command-line options of one device, shared by
// the reference device (cmd/pledge) and the load generator (cmd/loadgen):
// where the registrar is, how to reach it, what the device trusts. It is not
// the onboarding flow itself (internal/pledge) and starts no server.
package pledgecli

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/landfall-io/landfall/internal/pemfile"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// Flags are the options of one device.
type Flags struct {
	RegistrarURL, Mode, ATLSPath            string
	IDevIDCert, IDevIDKey, Anchor, MASACert string
	OuterCA                                 string
	// VoucherFormat is the --voucher-format name: cms, jws or cose.
	VoucherFormat string
	// Constrained is --constrained: the cBRSKI and EST-coaps flow.
	Constrained bool
	MaxWait     time.Duration
}

// Register defines the flags on fs; withIDevID adds the IDevID files (a
// load generator mints its devices instead).
func (f *Flags) Register(fs *flag.FlagSet, withIDevID bool) {
	fs.StringVar(&f.RegistrarURL, "registrar-url", "", "registrar base URL: the load balancer (ATLS modes) or the direct listener, e.g. https://registrar.example.net:8443, or the CoAP listener in coap-oscore mode, e.g. coap://registrar.example.net:5683 (required)")
	fs.StringVar(&f.Mode, "mode", pledge.ModeATLSOSCORE, "how to reach the registrar: "+strings.Join(pledge.Modes, ", ")+" (coap-oscore: ATLS and OSCORE over CoAP on UDP, implies --constrained)")
	fs.StringVar(&f.ATLSPath, "atls-path", "/.well-known/atls", "path of the ATLS resource behind the load balancer")
	if withIDevID {
		fs.StringVar(&f.IDevIDCert, "idevid-cert", "", "PEM file: the IDevID certificate, then any intermediates (required)")
		fs.StringVar(&f.IDevIDKey, "idevid-key", "", "PEM file: the IDevID private key (required)")
	}
	fs.StringVar(&f.Anchor, "manufacturer-anchor", "", "PEM file: the manufacturer's trust anchor the voucher's signer chains to (required)")
	fs.StringVar(&f.MASACert, "masa-cert", "", "PEM file: the MASA's voucher-signing certificate, when vouchers do not carry it")
	fs.StringVar(&f.OuterCA, "outer-ca", "", "PEM file: CA of the load balancer's TLS certificate (default: system roots)")
	fs.StringVar(&f.VoucherFormat, "voucher-format", "cms", "signature format of the voucher-request and the voucher asked for: cms (RFC 8995), jws or cose; a COSE voucher comes without the MASA's certificate, so give --masa-cert")
	fs.BoolVar(&f.Constrained, "constrained", false, "the constrained flow (cBRSKI, EST-coaps): COSE voucher-request to /.well-known/brski/rv, CBOR /vs and /es, binary /.well-known/est/crts, /att and /sen; modes "+strings.Join(pledge.ConstrainedModes, ", ")+"; implies --voucher-format cose")
	fs.DurationVar(&f.MaxWait, "max-wait", 5*time.Minute, "longest total time spent honouring Retry-After")
}

// Config turns the flags into a pledge configuration with the IDevID read
// from its files (RFC 8995 section 2.2: the IDevID is what the device is).
func (f *Flags) Config() (*pledge.Config, error) {
	if f.IDevIDCert == "" || f.IDevIDKey == "" {
		return nil, errors.New("--idevid-cert and --idevid-key are required")
	}
	cfg, err := f.BaseConfig()
	if err != nil {
		return nil, err
	}
	if cfg.IDevID, err = tls.LoadX509KeyPair(f.IDevIDCert, f.IDevIDKey); err != nil {
		return nil, fmt.Errorf("IDevID: %w", err)
	}
	return cfg, nil
}

// BaseConfig is everything but the IDevID: where the registrar is and what
// the device trusts (its manufacturer anchor, RFC 8995 section 5.6.1).
func (f *Flags) BaseConfig() (*pledge.Config, error) {
	if f.RegistrarURL == "" || f.Anchor == "" {
		return nil, errors.New("--registrar-url and --manufacturer-anchor are required")
	}
	format, err := voucher.ParseFormat(f.VoucherFormat)
	if err != nil {
		return nil, fmt.Errorf("--voucher-format: %q is not cms, jws or cose", f.VoucherFormat)
	}
	if f.Mode == pledge.ModeCoAPOSCORE {
		f.Constrained = true // the only flow over CoAP
	}
	if f.Constrained {
		if !slices.Contains(pledge.ConstrainedModes, f.Mode) {
			return nil, fmt.Errorf("--constrained runs in --mode %s, not %s", strings.Join(pledge.ConstrainedModes, ", "), f.Mode)
		}
		if format != voucher.FormatCMS && format != voucher.FormatCOSE {
			return nil, fmt.Errorf("--constrained sends COSE voucher-requests; --voucher-format %s contradicts it", f.VoucherFormat)
		}
		format = voucher.FormatCOSE
	}
	anchors, err := pemfile.Pool(f.Anchor)
	if err != nil {
		return nil, err
	}
	cfg := &pledge.Config{RegistrarURL: f.RegistrarURL, ATLSPath: f.ATLSPath, Mode: f.Mode,
		ManufacturerAnchors: anchors, MaxWait: f.MaxWait, VoucherFormat: format, Constrained: f.Constrained}
	if f.MASACert != "" {
		if cfg.MASACerts, err = pemfile.Certs(f.MASACert); err != nil {
			return nil, err
		}
	}
	if f.OuterCA != "" {
		pool, err := pemfile.Pool(f.OuterCA)
		if err != nil {
			return nil, err
		}
		cfg.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	return cfg, nil
}
