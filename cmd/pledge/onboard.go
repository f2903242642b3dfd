package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/pledge"
)

// onboardFlags are the options of one device.
type onboardFlags struct {
	registrarURL, mode, atlsPath            string
	idevidCert, idevidKey, anchor, masaCert string
	outerCA, out                            string
	maxWait                                 time.Duration
}

// register defines the flags; withIDevID adds the IDevID files (a load
// run mints its devices instead).
func (f *onboardFlags) register(fs *flag.FlagSet, withIDevID bool) {
	fs.StringVar(&f.registrarURL, "registrar-url", "", "registrar base URL: the load balancer (ATLS modes) or the direct listener, e.g. https://registrar.example.net:8443 (required)")
	fs.StringVar(&f.mode, "mode", pledge.ModeATLSOSCORE, "how to reach the registrar: "+strings.Join(pledge.Modes, ", "))
	fs.StringVar(&f.atlsPath, "atls-path", "/.well-known/atls", "path of the ATLS resource behind the load balancer")
	if withIDevID {
		fs.StringVar(&f.idevidCert, "idevid-cert", "", "PEM file: the IDevID certificate, then any intermediates (required)")
		fs.StringVar(&f.idevidKey, "idevid-key", "", "PEM file: the IDevID private key (required)")
	}
	fs.StringVar(&f.anchor, "manufacturer-anchor", "", "PEM file: the manufacturer's trust anchor the voucher's signer chains to (required)")
	fs.StringVar(&f.masaCert, "masa-cert", "", "PEM file: the MASA's voucher-signing certificate, when vouchers do not carry it")
	fs.StringVar(&f.outerCA, "outer-ca", "", "PEM file: CA of the load balancer's TLS certificate (default: system roots)")
	fs.DurationVar(&f.maxWait, "max-wait", 5*time.Minute, "longest total time spent honouring Retry-After")
}

func onboard(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	var f onboardFlags
	fs := flag.NewFlagSet("onboard", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = cli.Usage(stdout, fs, envPrefix, "usage: pledge [onboard] [options]\n\nOnboards one device (RFC 8995): provisional TLS, voucher request, voucher validation,\nvoucher status, cacerts, csrattrs, key generation, simpleenroll, enrollment status.")
	f.register(fs, true)
	fs.StringVar(&f.out, "out", ".", "directory for the new domain certificate (ldevid.crt), key (ldevid.key) and CA bundle (ca.crt)")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	cfg.Progress = func(s pledge.Step) {
		status := "ok"
		if s.Err != nil {
			status = "FAILED"
		}
		fmt.Fprintf(stdout, "%-17s %-6s %s (%s)\n", s.Name, status, s.Detail, s.Duration.Round(time.Millisecond))
	}
	res, err := pledge.Onboard(ctx, *cfg)
	if err != nil {
		var pe *pledge.Error
		if errors.As(err, &pe) && pe.Retryable {
			return fmt.Errorf("%w (retryable: try again later)", err)
		}
		return err
	}
	if err := res.WriteFiles(f.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "onboarded: %s issued by %s; files in %s\n", res.Certificate.Subject, res.Certificate.Issuer, f.out)
	return nil
}

// config turns the flags into a pledge configuration with the IDevID
// read from its files.
func (f *onboardFlags) config() (*pledge.Config, error) {
	if f.idevidCert == "" || f.idevidKey == "" {
		return nil, errors.New("--idevid-cert and --idevid-key are required")
	}
	cfg, err := f.baseConfig()
	if err != nil {
		return nil, err
	}
	if cfg.IDevID, err = tls.LoadX509KeyPair(f.idevidCert, f.idevidKey); err != nil {
		return nil, fmt.Errorf("IDevID: %w", err)
	}
	return cfg, nil
}

// baseConfig is everything but the IDevID: where the registrar is and
// what the device trusts.
func (f *onboardFlags) baseConfig() (*pledge.Config, error) {
	if f.registrarURL == "" || f.anchor == "" {
		return nil, errors.New("--registrar-url and --manufacturer-anchor are required")
	}
	anchors, err := readPool(f.anchor)
	if err != nil {
		return nil, err
	}
	cfg := &pledge.Config{RegistrarURL: f.registrarURL, ATLSPath: f.atlsPath, Mode: f.mode,
		ManufacturerAnchors: anchors, MaxWait: f.maxWait}
	if f.masaCert != "" {
		if cfg.MASACerts, err = readCerts(f.masaCert); err != nil {
			return nil, err
		}
	}
	if f.outerCA != "" {
		pool, err := readPool(f.outerCA)
		if err != nil {
			return nil, err
		}
		cfg.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	return cfg, nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return out, nil
}

func readPool(path string) (*x509.CertPool, error) {
	certs, err := readCerts(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}
