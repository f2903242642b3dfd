package sandbox_test

import (
	"bytes"
	"context"
	"errors"
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

// TestCoAPOSCOREOnboarding (issue 16 items 3 and 6): devices onboard in
// coap-oscore mode against a replica's CoAP listener (no balancer): the
// ATLS handshake over CoAP, then the constrained flow in OSCORE natively
// over CoAP, with a COSE voucher from the real MASA. Each ends with
// exactly one certificate, both reports and one COSE exchange recorded;
// a device not sold to the domain gets no certificate.
func TestCoAPOSCOREOnboarding(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.StartWith(t, sandbox.Options{CoAP: true})
	if len(d.CoAP) != len(d.Replicas) {
		t.Fatalf("%d CoAP listeners for %d replicas", len(d.CoAP), len(d.Replicas))
	}
	for i := range 2 {
		serial := fmt.Sprintf("COAP-%d", i)
		idevid, err := d.NewDevice(ctx, serial, true)
		if err != nil {
			t.Fatal(err)
		}
		cfg := d.PledgeConfig(pledge.ModeCoAPOSCORE, idevid)
		if !strings.HasPrefix(cfg.RegistrarURL, "coap://127.0.0.1:") {
			t.Fatalf("registrar URL %s", cfg.RegistrarURL)
		}
		var steps []string
		cfg.Progress = func(s pledge.Step) { steps = append(steps, s.Name) }
		res, err := pledge.Onboard(ctx, cfg) // --constrained implied
		if err != nil {
			if res != nil {
				for _, s := range res.Steps {
					t.Logf("%-16s %v %s", s.Name, s.Err, s.Detail)
				}
			}
			t.Fatal(err)
		}
		if res.Mode != pledge.ModeCoAPOSCORE || res.Certificate.Subject.SerialNumber != serial || res.Voucher.SerialNumber != serial {
			t.Fatalf("mode %s, certificate for %v, voucher for %s", res.Mode, res.Certificate.Subject, res.Voucher.SerialNumber)
		}
		t.Logf("steps %v", steps)
		checkExchangeFormat(t, d, serial, voucher.FormatCOSE)
		p, err := d.Store.FindPledge(ctx, d.ManufacturerID, serial)
		if err != nil {
			t.Fatal(err)
		}
		certs, _ := d.Store.ListCertificates(ctx, p.ID)
		reports, _ := d.Store.ListTelemetry(ctx, p.ID)
		if p.State != store.StateEnrolled || len(certs) != 1 || len(reports) != 2 || !bytes.Equal(certs[0].DER, res.Certificate.Raw) {
			t.Fatalf("%s: state %s, %d certificates, %d reports", serial, p.State, len(certs), len(reports))
		}
		vs, err := d.MASA.Store().ListVouchers(ctx, masa.VoucherFilter{SerialNumber: serial, Limit: 10})
		if err != nil || len(vs) != 1 {
			t.Fatalf("the MASA signed %d vouchers for %s (%v)", len(vs), serial, err)
		}
	}
	// The first replica's listener received the datagrams; each flight
	// ran at its home replica (atls.CoAPReplica), which may be the other.
	var flights int64
	for _, l := range d.CoAP {
		flights += l.Stats().Flights
	}
	if st := d.CoAP[0].ReplicaStats(); st.Received == 0 || flights == 0 {
		t.Fatalf("the first replica's CoAP listener received %d datagrams, the replicas ran %d flights", st.Received, flights)
	}

	// Not sold to the domain: the MASA holds its decision, which reaches
	// the pledge through OSCORE as 5.03 with Max-Age (an HTTP 503); it
	// gives up at once rather than wait, and nothing is issued.
	idevid, err := d.NewDevice(ctx, "COAP-UNSOLD", false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := d.PledgeConfig(pledge.ModeCoAPOSCORE, idevid)
	cfg.MaxWait = time.Second
	_, err = pledge.Onboard(ctx, cfg)
	var pe *pledge.Error
	if !errors.As(err, &pe) || pe.Step != "requestvoucher" || pe.Status != 503 {
		t.Fatalf("a device not sold to the domain: %v", err)
	}
	if p, err := d.Store.FindPledge(ctx, d.ManufacturerID, "COAP-UNSOLD"); err == nil {
		if certs, _ := d.Store.ListCertificates(ctx, p.ID); len(certs) != 0 {
			t.Fatalf("an unsold device got %d certificates", len(certs))
		}
	}
}
