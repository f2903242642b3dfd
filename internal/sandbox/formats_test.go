package sandbox_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestOnboardingInEachVoucherFormat (issue 15): one device per voucher
// format and mode onboards through the load balancer, two registrar
// replicas and the real MASA. Each exchange is in the pledge's format end
// to end (the pledge's request, the registrar's request and the MASA's
// voucher, as both services recorded them), and the registrar's request
// carries its chain up to the domain root, which is what the MASA sees as
// its farthest certificate. JWS cannot travel in atls-oscore mode (the
// profile's Content-Format table has no entry for it): the pledge says so
// before it connects, and the registrar records nothing.
func TestOnboardingInEachVoucherFormat(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	mfgRoots := x509.NewCertPool()
	mfgRoots.AddCert(d.MASAKeys.CACert)
	for _, f := range voucher.Formats {
		for _, mode := range pledge.HTTPModes {
			t.Run(f.String()+"/"+mode, func(t *testing.T) {
				serial := fmt.Sprintf("FMT-%s-%s", f, mode)
				idevid, err := d.NewDevice(ctx, serial, true)
				if err != nil {
					t.Fatal(err)
				}
				cfg := d.PledgeConfig(mode, idevid)
				cfg.VoucherFormat = f
				res, err := pledge.Onboard(ctx, cfg)
				if f == voucher.FormatJWS && mode == pledge.ModeATLSOSCORE {
					if err == nil || !strings.Contains(err.Error(), "Content-Format") {
						t.Fatalf("JWS over atls-oscore: %v", err)
					}
					if _, err := d.Store.FindPledge(ctx, d.ManufacturerID, serial); err == nil {
						t.Fatal("the registrar recorded a pledge that never connected")
					}
					return
				}
				if err != nil {
					if res != nil {
						for _, s := range res.Steps {
							t.Logf("%-16s %v %s", s.Name, s.Err, s.Detail)
						}
					}
					t.Fatal(err)
				}
				if res.Certificate.Subject.SerialNumber != serial || !bytes.Equal(res.Voucher.PinnedDomainCert, d.State.DomainRoot.Raw) {
					t.Fatalf("certificate for %v, voucher pins another domain", res.Certificate.Subject)
				}
				checkExchangeFormat(t, d, serial, f)
			})
		}
	}
}

// checkExchangeFormat reads what the registrar and the MASA recorded of
// serial's one exchange: all three signed objects in format f, and the
// registrar's request, checked as the MASA checks it, anchored at the
// domain root.
func checkExchangeFormat(t *testing.T, d *sandbox.Deployment, serial string, f voucher.Format) {
	t.Helper()
	ctx := context.Background()
	p, err := d.Store.FindPledge(ctx, d.ManufacturerID, serial)
	if err != nil {
		t.Fatal(err)
	}
	exs, err := d.Store.ListExchanges(ctx, p.ID)
	if err != nil || len(exs) != 1 || exs[0].Outcome != store.OutcomeIssued {
		t.Fatalf("exchanges %+v (%v)", exs, err)
	}
	ex := exs[0]
	for what, b := range map[string][]byte{"pledge request": ex.PledgeRequest, "registrar request": ex.RegistrarRequest, "voucher": ex.Voucher} {
		if got, ok := voucher.DetectFormat(b); !ok || got != f {
			t.Errorf("recorded %s is %v (%v), want %v", what, got, ok, f)
		}
	}
	mfgRoots := x509.NewCertPool()
	mfgRoots.AddCert(d.MASAKeys.CACert)
	rr, err := voucher.CheckRegistrarRequest(ex.RegistrarRequest, voucher.RegistrarRequestCheck{ManufacturerRoots: mfgRoots, At: time.Now(), AllowNoPrior: true, Format: f})
	if err != nil {
		t.Fatalf("the registrar request as the MASA checks it: %v", err)
	}
	if !rr.DomainCert.Equal(d.State.DomainRoot) {
		t.Fatalf("the MASA's farthest certificate is %q, not the domain root %q", rr.DomainCert.Subject, d.State.DomainRoot.Subject)
	}
	if !bytes.Equal(rr.Request.PriorSignedVoucherRequest, ex.PledgeRequest) {
		t.Fatal("prior-signed-voucher-request is not the pledge's request as received")
	}
	vs, err := d.MASA.Store().ListVouchers(ctx, masa.VoucherFilter{SerialNumber: serial, Limit: 10})
	if err != nil || len(vs) != 1 {
		t.Fatalf("MASA recorded %d vouchers (%v)", len(vs), err)
	}
	if got, _ := voucher.DetectFormat(vs[0].Voucher); got != f || !bytes.Equal(vs[0].Voucher, ex.Voucher) {
		t.Fatalf("the MASA recorded a %v voucher, not the one the registrar received", got)
	}
}

// TestTrustOnFirstUsePinsDomainRoot: a MASA that does not know the
// device's owner and trusts the registrar's domain on first use pins the
// farthest certificate of the registrar's request (RFC 8995 5.5.4). The
// registrar's certificate file carries only its issuing CA; the registrar
// adds the root from its CA, so the voucher pins the domain root in every
// format.
func TestTrustOnFirstUsePinsDomainRoot(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	if chain := d.State.TLSCert.Certificate; len(chain) != 2 {
		t.Fatalf("the registrar certificate file holds %d certificates; this test wants the leaf and its issuer only", len(chain))
	}
	for _, f := range voucher.Formats {
		t.Run(f.String(), func(t *testing.T) {
			serial := "TOFU-" + f.String()
			idevid, err := d.NewDevice(ctx, serial, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.MASA.SetPolicy(ctx, "device", serial, masa.Policy{TrustOnFirstUse: true}, "test"); err != nil {
				t.Fatal(err)
			}
			cfg := d.PledgeConfig(pledge.ModeATLSCOSE, idevid)
			cfg.VoucherFormat = f
			res, err := pledge.Onboard(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Voucher.PinnedDomainCert, d.State.DomainRoot.Raw) || res.Voucher.Assertion != voucher.AssertionProximity {
				t.Fatalf("voucher pins %x..., assertion %s", res.Voucher.PinnedDomainCert[:8], res.Voucher.Assertion)
			}
			vs, err := d.MASA.Store().ListVouchers(ctx, masa.VoucherFilter{SerialNumber: serial, Limit: 10})
			// The domain root is the registered owner's CA: the claim
			// lands on that owner.
			if err != nil || len(vs) != 1 || vs[0].DomainID != masa.DomainID(d.State.DomainRoot) || vs[0].OwnerID != d.OwnerID {
				t.Fatalf("MASA vouchers %+v (%v)", vs, err)
			}
		})
	}
}
