package registrar_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestRegistrarChecksInEachFormat: the registrar's checks of RFC 8995 5.3
// refuse a pledge voucher-request in JWS or COSE as they do in CMS, over
// direct TLS to the real registrar: signed by another key than the
// session's IDevID (401; 403 bad-signature in COSE, which names no
// signer), pinning another registrar (401, a man in the
// middle), naming another serial-number (403); and a Content-Type the
// registrar does not take (415) or an Accept it cannot meet (406). Each
// refusal records no pledge and no exchange; then the honest request of
// the same device in the same format gets a voucher of that format, and
// one whose Accept names another format a voucher of that other format.
func TestRegistrarChecksInEachFormat(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	leaf, _ := x509.ParseCertificate(e.State.TLSCert.Certificate[0])
	for _, f := range voucher.Formats {
		t.Run(f.String(), func(t *testing.T) {
			serial := "CHK-" + f.String()
			idevid := e.newDevice(serial, true)
			other := e.newDevice("CHK-OTHER-"+f.String(), true)
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true}}}
			sign := func(by tls.Certificate, pinned *x509.Certificate, serial string) []byte {
				nonce, _ := voucher.NewNonce()
				vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: serial, Nonce: nonce, RegistrarCert: pinned})
				if err != nil {
					t.Fatal(err)
				}
				s := &voucher.Signer{Cert: by.Leaf, Key: by.PrivateKey.(crypto.Signer), COSE: voucher.COSEOptions{Certs: voucher.COSENoCerts}}
				b, err := s.SignVoucherRequestAs(f, vr)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			post := func(contentType, accept string, body []byte) (int, string, []byte) {
				req, _ := http.NewRequest(http.MethodPost, e.Direct[0].URL+voucher.PathRequestVoucher, bytes.NewReader(body))
				if contentType != "" {
					req.Header.Set("Content-Type", contentType)
				}
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, resp.Header.Get("Content-Type"), b
			}
			honest := sign(idevid, leaf, serial)
			// A COSE request names no signer: the registrar can only try the
			// session's IDevID, whose key does not verify it (403).
			wrongSigner, wrongSignerReason := 401, "wrong-signer"
			if f == voucher.FormatCOSE {
				wrongSigner, wrongSignerReason = 403, "bad-signature"
			}
			for _, tc := range []struct {
				name, contentType, accept string
				body                      []byte
				status                    int
				reason                    string
			}{
				{"signed by another device", f.MediaType(), "", sign(other, leaf, serial), wrongSigner, wrongSignerReason},
				{"pins another registrar", f.MediaType(), "", sign(idevid, e.MASAKeys.SignerCert, serial), 401, "proximity-mismatch"},
				{"names another serial-number", f.MediaType(), "", sign(idevid, leaf, "CHK-NOBODY"), 403, "serial-mismatch"},
				{"Content-Type not a voucher-request", "application/json", "", honest, 415, "voucher-requests are one of"},
				{"Accept no voucher format", f.MediaType(), "application/json", honest, 406, "Accept names none"},
			} {
				status, _, body := post(tc.contentType, tc.accept, tc.body)
				if status != tc.status || !strings.Contains(string(body), tc.reason) {
					t.Errorf("%s: %d %q, want %d saying %q", tc.name, status, body, tc.status, tc.reason)
				}
				if p, exs, certs := e.counts(serial); p != nil || len(exs) != 0 || certs != 0 {
					t.Fatalf("%s: recorded pledge %+v, %d exchanges, %d certificates", tc.name, p, len(exs), certs)
				}
			}
			status, contentType, body := post(f.MediaType(), f.MediaType(), honest)
			if status != http.StatusOK || contentType != f.MediaType() {
				t.Fatalf("honest request: %d %s %q", status, contentType, body)
			}
			if got, ok := voucher.DetectFormat(body); !ok || got != f {
				t.Fatalf("voucher is %v (%v)", got, ok)
			}
			if p, exs, _ := e.counts(serial); p == nil || len(exs) != 1 {
				t.Fatalf("honest request recorded %+v, %d exchanges", p, len(exs))
			}
			// An Accept naming another format gets a voucher of that one.
			next := voucher.Formats[(int(f)+1)%len(voucher.Formats)]
			status, contentType, body = post(f.MediaType(), "text/plain, "+next.MediaType(), sign(idevid, leaf, serial))
			if got, _ := voucher.DetectFormat(body); status != http.StatusOK || contentType != next.MediaType() || got != next {
				t.Fatalf("%s request asking for %s: %d %s, a %v voucher", f, next, status, contentType, got)
			}
		})
	}
}

// TestPledgeChecksInEachFormat: the pledge refuses, in every format, a
// voucher that does not chain to its manufacturer anchor, and reports the
// failure in its voucher status (RFC 8995 5.7), which the registrar
// records; nothing is enrolled.
func TestPledgeChecksInEachFormat(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	ctx := context.Background()
	for _, f := range voucher.Formats {
		t.Run(f.String(), func(t *testing.T) {
			serial := "PCHK-" + f.String()
			cfg := e.pledgeConfig(pledge.ModeATLSCOSE, e.newDevice(serial, true))
			cfg.VoucherFormat = f
			wrong := x509.NewCertPool()
			wrong.AddCert(e.State.DomainRoot)
			cfg.ManufacturerAnchors = wrong
			_, perr := onboardErr(t, cfg)
			if perr == nil || perr.Step != "validate voucher" || !strings.Contains(perr.Error(), "untrusted") {
				t.Fatalf("voucher under another anchor: %v", perr)
			}
			p, exs, certs := e.counts(serial)
			if p == nil || len(exs) != 1 || certs != 0 {
				t.Fatalf("recorded %+v, %d exchanges, %d certificates", p, len(exs), certs)
			}
			tel, err := e.Store.ListTelemetry(ctx, p.ID)
			if err != nil || len(tel) != 1 || tel[0].Status || !strings.Contains(tel[0].Reason, "untrusted") {
				t.Fatalf("voucher status %+v (%v)", tel, err)
			}
		})
	}
}
