package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/pledge/pledgecli"
)

// onboard runs the RFC 8995 pledge flow once for the IDevID on disk and
// writes the new domain certificate, its key and the CA bundle.
func onboard(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	var f pledgecli.Flags
	fs := flag.NewFlagSet("onboard", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = cli.Usage(stdout, fs, envPrefix, "usage: pledge [onboard] [options]\n\nOnboards one device (RFC 8995): provisional TLS, voucher request, voucher validation,\nvoucher status, cacerts, csrattrs, key generation, simpleenroll, enrollment status.")
	f.Register(fs, true)
	out := fs.String("out", ".", "directory for the new domain certificate (ldevid.crt), key (ldevid.key) and CA bundle (ca.crt)")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return err
	}
	cfg, err := f.Config()
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
	if err := res.WriteFiles(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "onboarded: %s issued by %s; files in %s\n", res.Certificate.Subject, res.Certificate.Issuer, *out)
	return nil
}
