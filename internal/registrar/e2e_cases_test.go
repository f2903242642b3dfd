package registrar_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/oscore"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// onboardErr runs a pledge and returns its failure as *pledge.Error.
func onboardErr(t *testing.T, cfg pledge.Config) (*pledge.Result, *pledge.Error) {
	t.Helper()
	res, err := pledge.Onboard(context.Background(), cfg)
	if err == nil {
		return res, nil
	}
	var pe *pledge.Error
	if !errors.As(err, &pe) {
		t.Fatalf("untyped failure %v", err)
	}
	return res, pe
}

// counts reads the rows a pledge has in each table.
func (e *env) counts(serial string) (p *store.Pledge, exchanges []store.Exchange, certs int) {
	ctx := context.Background()
	p, err := e.Store.FindPledge(ctx, e.ManufacturerID, serial)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	exchanges, _ = e.Store.ListExchanges(ctx, p.ID)
	c, _ := e.Store.ListCertificates(ctx, p.ID)
	return p, exchanges, len(c)
}

// TestApprovalFlow: in manual mode a pledge is held (202 + Retry-After)
// until an operator approves it, then onboards; a denied pledge gets 403.
func TestApprovalFlow(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalManual})
	ctx := context.Background()
	// COSE carries the inner status as is (OSCORE would map 202 to 5.03).
	cfg := e.pledgeConfig(pledge.ModeATLSCOSE, e.newDevice("HOLD-1", true))
	cfg.MaxRetries = 1
	_, perr := onboardErr(t, cfg)
	if perr == nil || perr.Status != http.StatusAccepted || !perr.Retryable || perr.Step != "requestvoucher" {
		t.Fatalf("held pledge: %v", perr)
	}
	p, ex, certs := e.counts("HOLD-1")
	if p.Decision != store.DecisionPending || p.State != store.StateNew || len(ex) != 2 || ex[0].Outcome != store.OutcomeHeld || certs != 0 {
		t.Fatalf("after hold: %+v, %d exchanges, %d certificates", p, len(ex), certs)
	}
	if _, err := e.Store.Decide(ctx, []int64{p.ID}, store.DecisionApproved, "operator"); err != nil {
		t.Fatal(err)
	}
	if _, perr := onboardErr(t, cfg); perr != nil {
		t.Fatalf("after approval: %v", perr)
	}
	if p, _, certs := e.counts("HOLD-1"); p.State != store.StateEnrolled || certs != 1 {
		t.Fatalf("after approval: %+v, %d certificates", p, certs)
	}

	deny := e.pledgeConfig(pledge.ModeATLSCOSE, e.newDevice("DENY-1", true))
	deny.MaxRetries = 1
	onboardErr(t, deny) // first contact: held
	p, _, _ = e.counts("DENY-1")
	if _, err := e.Store.Decide(ctx, []int64{p.ID}, store.DecisionDenied, "operator"); err != nil {
		t.Fatal(err)
	}
	_, perr = onboardErr(t, deny)
	if perr == nil || perr.Status != http.StatusForbidden || perr.Retryable {
		t.Fatalf("denied pledge: %v", perr)
	}
	p, ex, certs = e.counts("DENY-1")
	if p.State != store.StateNew || ex[len(ex)-1].Outcome != store.OutcomeDenied || certs != 0 {
		t.Fatalf("after deny: %+v, %v, %d certificates", p, ex[len(ex)-1].Outcome, certs)
	}
}

// TestRefusals: each bad case gets its status and leaves the database as it
// must be.
func TestRefusals(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})

	t.Run("unknown manufacturer", func(t *testing.T) {
		other := newEnv(t, envOptions{approval: registrar.ApprovalAuto}) // another manufacturer's MASA
		cfg := e.pledgeConfig(pledge.ModeATLSOSCORE, other.newDevice("ALIEN-1", true))
		_, perr := onboardErr(t, cfg)
		if perr == nil || perr.Status != http.StatusForbidden {
			t.Fatalf("%v", perr)
		}
		if p, _, _ := e.counts("ALIEN-1"); p != nil {
			t.Fatal("an unknown manufacturer's pledge was recorded")
		}
	})

	t.Run("device not yet sold to this owner", func(t *testing.T) {
		// The MASA has no owner for the device yet: its decision is
		// pending (202), which the registrar passes on.
		cfg := e.pledgeConfig(pledge.ModeATLSCOSE, e.newDevice("NOTOURS-1", false))
		cfg.MaxRetries = 1
		_, perr := onboardErr(t, cfg)
		if perr == nil || perr.Status != http.StatusAccepted || !perr.Retryable {
			t.Fatalf("%v", perr)
		}
		p, ex, certs := e.counts("NOTOURS-1")
		if p.State != store.StateVoucherRequested || len(ex) != 2 || ex[0].Outcome != store.OutcomeMASAPending || ex[0].Voucher != nil || certs != 0 {
			t.Fatalf("%+v %v %d", p, ex, certs)
		}
	})

	t.Run("MASA unreachable", func(t *testing.T) {
		idevid := e.newDevice("NOMASA-1", true)
		e.MASAServer.Config.SetKeepAlivesEnabled(false)
		e.MASAServer.CloseClientConnections()
		lis := e.MASAServer.Listener
		lis.Close() // the MASA is down from here on
		cfg := e.pledgeConfig(pledge.ModeATLSRecords, idevid)
		cfg.MaxRetries = 1
		_, perr := onboardErr(t, cfg)
		if perr == nil || perr.Status != http.StatusServiceUnavailable || !perr.Retryable || !bytes.Contains([]byte(perr.Error()), []byte("MASA unreachable")) {
			t.Fatalf("%v", perr)
		}
		p, ex, certs := e.counts("NOMASA-1")
		if p.State == store.StateVoucherIssued || ex[len(ex)-1].Outcome != store.OutcomeMASAUnreachable || ex[0].Voucher != nil || certs != 0 {
			t.Fatalf("half-written: %+v %v %d", p, ex, certs)
		}
	})
}

// TestProximityMismatchIs401: a pledge that pinned another registrar (a
// man in the middle relaying its request) gets 401 and nothing is
// recorded; a replayed request of a session gets 401 on another session.
func TestProximityMismatchIs401(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	idevid := e.newDevice("MITM-1", true)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true,
	}}}
	post := func(pinned *x509.Certificate) int {
		vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: "MITM-1", Nonce: "n-1", RegistrarCert: pinned})
		if err != nil {
			t.Fatal(err)
		}
		body, err := (&voucher.Signer{Cert: idevid.Leaf, Key: idevid.PrivateKey.(crypto.Signer)}).SignVoucherRequest(vr)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, e.Direct[0].URL+"/.well-known/brski/requestvoucher", bytes.NewReader(body))
		req.Header.Set("Content-Type", registrar.MediaVoucherCMS)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := post(e.MASAKeys.SignerCert); status != http.StatusUnauthorized {
		t.Fatalf("request pinning another registrar: %d", status)
	}
	if p, _, _ := e.counts("MITM-1"); p != nil {
		t.Fatalf("a rejected request created pledge %+v", p)
	}
	// The same pledge, pinning the certificate this registrar presents.
	leaf, _ := x509.ParseCertificate(e.State.TLSCert.Certificate[0])
	if status := post(leaf); status != http.StatusOK {
		t.Fatalf("honest request: %d", status)
	}
}

// TestEnrollmentRefusals: a CSR naming another serial number is refused
// and issues nothing; an OSCORE request replayed to the other replica is
// refused before it runs.
func TestEnrollmentRefusals(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	idevid := e.newDevice("CSR-1", true)
	if _, perr := onboardErr(t, e.pledgeConfig(pledge.ModeDirect, idevid)); perr != nil {
		t.Fatal(perr)
	}
	_, _, before := e.counts("CSR-1")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true,
	}}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: "SOMEONE-ELSE"}}, key)
	est := &enroll.Client{BaseURL: e.Direct[0].URL + enroll.DefaultPathPrefix, HTTPClient: hc}
	_, err := est.SimpleEnroll(context.Background(), csr)
	var ee *enroll.Error
	if !errors.As(err, &ee) || ee.Status < 400 || ee.Status >= 500 {
		t.Fatalf("CSR with another serial: %v", err)
	}
	if _, _, after := e.counts("CSR-1"); after != before {
		t.Fatalf("certificates %d -> %d", before, after)
	}

	// Replay: a pledge's protected request, sent again through the load
	// balancer (so to the other replica), is refused with 401.
	atlsClient := &atls.Client{URL: e.LB.URL + atls.DefaultPath, HTTP: e.LB.Client(), Provisional: true,
		TLS: &tls.Config{Certificates: []tls.Certificate{idevid}}, Protocols: []string{atls.ProtoOSCORE}}
	sess, err := atlsClient.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	octx, _ := oscore.NewContext(sess.Exported().Params())
	msg := &oscore.Message{Code: oscore.GET}
	msg.Add(oscore.OptUriPath, []byte(".well-known"))
	msg.Add(oscore.OptUriPath, []byte("est"))
	msg.Add(oscore.OptUriPath, []byte("cacerts"))
	opt, ct, _, _ := octx.ProtectRequest(msg.Marshal())
	send := func() int {
		req, _ := http.NewRequest(http.MethodPost, e.LB.URL+atls.DefaultPath, bytes.NewReader(ct))
		req.Header.Set("Content-Type", oscore.MediaType)
		req.Header.Set("OSCORE", oscore.EncodeHeader(opt))
		resp, err := e.LB.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if first, again := send(), send(); first != http.StatusOK || again != http.StatusUnauthorized {
		t.Fatalf("first %d, replay %d", first, again)
	}
}

// TestAllowListAndEnrollmentGate: in allow-list mode a listed pledge
// onboards at once and an unlisted one is held; EST refuses a pledge whose
// voucher was not yet accepted.
func TestAllowListAndEnrollmentGate(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAllowList})
	ctx := context.Background()
	rows, err := store.ParseAllowlistCSV(strings.NewReader("manufacturer,serial,note\nTest Manufacturer,LISTED-1,expected\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.ImportAllowlist(ctx, rows, "test"); err != nil {
		t.Fatal(err)
	}
	if _, perr := onboardErr(t, e.pledgeConfig(pledge.ModeATLSOSCORE, e.newDevice("LISTED-1", true))); perr != nil {
		t.Fatalf("listed pledge: %v", perr)
	}
	cfg := e.pledgeConfig(pledge.ModeATLSCOSE, e.newDevice("UNLISTED-1", true))
	cfg.MaxRetries = 1
	if _, perr := onboardErr(t, cfg); perr == nil || perr.Status != http.StatusAccepted {
		t.Fatalf("unlisted pledge: %v", perr)
	}

	// A pledge approved but without an accepted voucher may not enroll.
	idevid := e.newDevice("EARLY-1", true)
	p, err := e.Store.Touch(ctx, e.ManufacturerID, "EARLY-1", idevid.Leaf.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.Decide(ctx, []int64{p.ID}, store.DecisionApproved, "operator"); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true}}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: "EARLY-1"}}, key)
	_, err = (&enroll.Client{BaseURL: e.Direct[1].URL + enroll.DefaultPathPrefix, HTTPClient: hc}).SimpleEnroll(ctx, csr)
	var ee *enroll.Error
	if !errors.As(err, &ee) || ee.Status != http.StatusForbidden {
		t.Fatalf("enrollment before voucher acceptance: %v", err)
	}
	if _, _, certs := e.counts("EARLY-1"); certs != 0 {
		t.Fatal("a certificate was issued")
	}
}

// TestRepeatedEnrollmentIssuesOnce: a pledge that asks again with the same
// key (its answer was lost) gets the same certificate, not a second one; a
// new key gets a new certificate.
func TestRepeatedEnrollmentIssuesOnce(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	idevid := e.newDevice("AGAIN-1", true)
	res, perr := onboardErr(t, e.pledgeConfig(pledge.ModeDirect, idevid))
	if perr != nil {
		t.Fatal(perr)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true}}}
	est := &enroll.Client{BaseURL: e.Direct[1].URL + enroll.DefaultPathPrefix, HTTPClient: hc}
	// The pledge started over: a new voucher exchange moved its state
	// back before it asked for its certificate again.
	p, err := e.Store.FindPledge(context.Background(), e.ManufacturerID, "AGAIN-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store.SetState(context.Background(), p.ID, store.StateVoucherAccepted); err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: res.Certificate.Subject}, res.Key)
	chain, err := est.SimpleEnroll(context.Background(), csr)
	if err != nil {
		t.Fatal(err)
	}
	if !chain[0].Equal(res.Certificate) {
		t.Fatal("a repeated enrollment with the same key got a second certificate")
	}
	if p, err = e.Store.GetPledge(context.Background(), p.ID); err != nil || p.State != store.StateEnrolled {
		t.Fatalf("after the repeated enrollment the pledge is %v (%v), want enrolled", p.State, err)
	}
	if _, _, certs := e.counts("AGAIN-1"); certs != 1 {
		t.Fatalf("%d certificates recorded", certs)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr2, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: res.Certificate.Subject}, key)
	if chain, err = est.SimpleEnroll(context.Background(), csr2); err != nil || chain[0].Equal(res.Certificate) {
		t.Fatalf("a new key: %v", err)
	}
	if _, _, certs := e.counts("AGAIN-1"); certs != 2 {
		t.Fatalf("%d certificates recorded", certs)
	}
}
