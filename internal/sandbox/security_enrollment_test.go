package sandbox_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// testSecurityEnrollment: a domain certificate only for a pledge this
// registrar obtained a voucher for (item 1), identified by its whole chain
// (item 6) and one source of its serial number (item 7).
func testSecurityEnrollment(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)

	// Lying about the voucher: the pledge reports status true for a
	// voucher it never got, then asks for a certificate.
	for _, tc := range []struct {
		name, serial  string
		sell          func(t *testing.T, serial string)
		voucherStatus int // of requestvoucher
	}{
		{"1/unsold-device-status-true", "LIE-UNSOLD", func(*testing.T, string) {}, http.StatusAccepted},
		{"1/device-sold-to-another-domain-status-true", "LIE-ELSEWHERE", func(t *testing.T, serial string) { sellElsewhere(t, d, serial) }, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serial := tc.serial
			idevid, err := d.NewDevice(ctx, serial, false)
			if err != nil {
				t.Fatal(err)
			}
			tc.sell(t, serial)
			p := newDirectPledge(t, d, idevid, serial)
			if status, reason := p.requestVoucher(); status != tc.voucherStatus {
				t.Fatalf("requestvoucher: %d %s, want %d", status, reason, tc.voucherStatus)
			}
			if status, _ := p.report("voucher_status", true); status != http.StatusOK {
				t.Fatalf("voucher_status: %d", status)
			}
			status, reason := p.enroll()
			wantRefusal(t, status, reason, http.StatusForbidden, "no voucher was obtained for this pledge")
			wantPledge(t, d, serial, store.StateVoucherRequested, 0)
		})
	}

	t.Run("1/enroll-without-any-voucher-request", func(t *testing.T) {
		p := newSoldDirectPledge(t, d, "LIE-NOREQUEST")
		if status, _ := p.report("voucher_status", true); status != http.StatusNotFound {
			t.Fatalf("voucher_status of an unknown pledge: %d", status)
		}
		status, reason := p.enroll()
		wantRefusal(t, status, reason, http.StatusForbidden, "unknown pledge")
		var n int
		d.Pool().QueryRow(ctx, `SELECT count(*) FROM pledges WHERE serial = 'LIE-NOREQUEST'`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d pledge rows for a pledge that never asked for a voucher", n)
		}
	})

	t.Run("1/voucher-issued-but-never-accepted", func(t *testing.T) {
		p := newSoldDirectPledge(t, d, "LIE-UNACCEPTED")
		if status, reason := p.requestVoucher(); status != http.StatusOK {
			t.Fatalf("requestvoucher: %d %s", status, reason)
		}
		// An enrollment status is no voucher acceptance either.
		if status, _ := p.report("enrollstatus", true); status != http.StatusOK {
			t.Fatalf("enrollstatus: %d", status)
		}
		status, reason := p.enroll()
		wantRefusal(t, status, reason, http.StatusForbidden, "must report that it accepted its voucher")
		wantPledge(t, d, "LIE-UNACCEPTED", store.StateVoucherIssued, 0)
		// The same pledge, once it has accepted, enrolls: the gate is the
		// recorded voucher and the report together.
		if status, _ := p.report("voucher_status", true); status != http.StatusOK {
			t.Fatalf("voucher_status: %d", status)
		}
		if status, reason := p.enroll(); status != http.StatusOK {
			t.Fatalf("enroll after accepting: %d %s", status, reason)
		}
		wantPledge(t, d, "LIE-UNACCEPTED", store.StateEnrolled, 1)
	})

	t.Run("1/voucher-then-resold-elsewhere", func(t *testing.T) {
		// A voucher obtained once does not outlive a later refusal: the
		// device was sold on, its new MASA answer refuses this domain.
		p := newSoldDirectPledge(t, d, "LIE-RESOLD")
		if status, reason := p.requestVoucher(); status != http.StatusOK {
			t.Fatalf("requestvoucher: %d %s", status, reason)
		}
		sellElsewhere(t, d, "LIE-RESOLD")
		if status, _ := p.requestVoucher(); status != http.StatusNotFound {
			t.Fatalf("requestvoucher after the resale: %d", status)
		}
		p.report("voucher_status", true)
		status, reason := p.enroll()
		wantRefusal(t, status, reason, http.StatusForbidden, "no voucher was obtained for this pledge")
		wantPledge(t, d, "LIE-RESOLD", store.StateVoucherRequested, 0)
	})

	// Issue 15: the direct listener completes a TLS handshake without a
	// client certificate so that /cacerts answers (RFC 7030 4.1.1: SHOULD
	// NOT require client authentication). Everything else must still be
	// refused to such a client, whatever the method, path spelling or
	// body: here a captured voucher-request and CSR of a sold device.
	t.Run("15/no-client-certificate-gets-cacerts-only", func(t *testing.T) {
		const serial = "ANON-0001"
		victim := newSoldDirectPledge(t, d, serial)
		registrarCert, err := x509.ParseCertificate(d.State.TLSCert.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		nonce, _ := voucher.NewNonce()
		vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: serial, Nonce: nonce, RegistrarCert: registrarCert, CreatedOn: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		pvr, err := (&voucher.Signer{Cert: victim.idevid.Leaf, Key: victim.idevid.PrivateKey.(*ecdsa.PrivateKey)}).SignVoucherRequest(vr)
		if err != nil {
			t.Fatal(err)
		}
		csr := []byte(base64.StdEncoding.EncodeToString(testkit.CSR(t, victim.key, pkix.Name{SerialNumber: serial, CommonName: serial})))
		status := []byte(`{"version":1,"status":true}`)
		counts := func() (n [3]int) {
			for i, table := range []string{"pledges", "voucher_exchanges", "certificates"} {
				d.Pool().QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n[i])
			}
			return n
		}
		before := counts()
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // no certificate
		t.Cleanup(tr.CloseIdleConnections)
		anon := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		const noCert = "no client certificate"
		for _, rq := range []struct {
			method, path, contentType string
			body                      []byte
			status                    int
			reason                    string
		}{
			{"GET", "/.well-known/est/cacerts", "", nil, http.StatusOK, ""},
			{"GET", "/.well-known/est/some-label/cacerts", "", nil, http.StatusOK, ""},
			{"HEAD", "/.well-known/est/cacerts", "", nil, http.StatusUnauthorized, ""},
			{"POST", "/.well-known/est/cacerts", "application/pkcs10", csr, http.StatusUnauthorized, noCert},
			{"GET", "/.well-known/est/cacerts/", "", nil, http.StatusUnauthorized, noCert},
			{"GET", "/.well-known/est/%63acerts", "", nil, http.StatusUnauthorized, noCert},
			{"GET", "/.well-known/est/cacerts/../csrattrs", "", nil, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/est/simpleenroll%2Fcacerts", "application/pkcs10", csr, http.StatusUnauthorized, noCert},
			{"GET", "/.well-known/est/csrattrs", "", nil, http.StatusUnauthorized, noCert},
			{"GET", "/.well-known/est/csrattributes", "", nil, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/est/simpleenroll", "application/pkcs10", csr, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/est/some-label/simpleenroll", "application/pkcs10", csr, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/est/simplereenroll", "application/pkcs10", csr, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/est/serverkeygen", "application/pkcs10", csr, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/brski/requestvoucher", pledge.MediaVoucherCMS, pvr, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/brski/voucher_status", "application/json", status, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/brski/enrollstatus", "application/json", status, http.StatusUnauthorized, noCert},
			{"POST", "/.well-known/brski/voucher_status", "text/plain", status, http.StatusUnauthorized, noCert},
			{"GET", "/.well-known/brski/unknown", "", nil, http.StatusUnauthorized, noCert},
		} {
			t.Run(rq.method+" "+rq.path, func(t *testing.T) {
				req, err := http.NewRequest(rq.method, d.Direct[0].URL+rq.path, bytes.NewReader(rq.body))
				if err != nil {
					t.Fatal(err)
				}
				if rq.contentType != "" {
					req.Header.Set("Content-Type", rq.contentType)
				}
				resp, err := anon.Do(req)
				if err != nil {
					t.Fatalf("%s %s without a client certificate: %v", rq.method, rq.path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				wantRefusal(t, resp.StatusCode, strings.TrimSpace(string(body)), rq.status, rq.reason)
				if rq.status == http.StatusOK {
					if resp.Header.Get("Content-Transfer-Encoding") != "base64" {
						t.Errorf("%s: Content-Transfer-Encoding %q", rq.path, resp.Header.Get("Content-Transfer-Encoding"))
					}
					if _, err := enroll.ParseCertsOnly(body); err != nil {
						t.Errorf("%s: %v", rq.path, err)
					}
				}
			})
		}
		if after := counts(); after != before {
			t.Fatalf("pledges, voucher exchanges, certificates %v before the anonymous requests, %v after", before, after)
		}
		// The device itself, with its certificate, is served as before.
		if status, reason := victim.requestVoucher(); status != http.StatusOK {
			t.Fatalf("requestvoucher with the IDevID: %d %s", status, reason)
		}
	})

	t.Run("6/sub-ca-idevid-onboards-and-is-recorded", func(t *testing.T) {
		idevid := subCADevice(t, d, "SUBCA-0001")
		cfg := d.PledgeConfig(pledge.ModeATLSOSCORE, idevid)
		res, err := pledge.Onboard(ctx, cfg)
		if err != nil {
			t.Fatalf("a pledge whose IDevID comes from a manufacturer sub-CA: %v", err)
		}
		wantPledge(t, d, "SUBCA-0001", store.StateEnrolled, 1)
		var der []byte
		d.Pool().QueryRow(ctx, `SELECT c.der FROM certificates c JOIN pledges p ON p.id = c.pledge_id WHERE p.serial = 'SUBCA-0001'`).Scan(&der)
		if !bytes.Equal(der, res.Certificate.Raw) {
			t.Fatal("the certificate the pledge received is not the one recorded")
		}
	})

	t.Run("7/commonName-serial-field", func(t *testing.T) { commonNameSerials(t) })
}

// commonNameSerials: a manufacturer whose serial numbers live in
// commonName. The registrar tracks, checks and certifies the one serial
// that field holds, at every step (item 7). It runs on a deployment of its
// own, whose manufacturer says commonName from the start.
func commonNameSerials(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	m, err := d.Store.GetManufacturer(ctx, d.ManufacturerID)
	if err != nil {
		t.Fatal(err)
	}
	m.SerialField = store.SerialFieldCommonName
	if _, err := d.Store.UpdateManufacturer(ctx, *m, "test"); err != nil {
		t.Fatal(err)
	}

	// An IDevID whose only serial is its commonName. Landfall's MASA
	// cannot vouch for it (it reads serialNumber), so its answer is
	// recorded as the exchange a commonName-reading MASA would have
	// completed; the EST path under test is the registrar's.
	leaf, key := cnOnlyIDevID(t, d, "CNONLY-0007")
	p := newDirectPledge(t, d, tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, "CNONLY-0007")
	p.requestVoucher()
	if _, err := d.Pool().Exec(ctx, `UPDATE voucher_exchanges SET outcome = 'issued'
		WHERE pledge_id = (SELECT id FROM pledges WHERE serial = 'CNONLY-0007')`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pool().Exec(ctx, `UPDATE pledges SET state = 'voucher-issued' WHERE serial = 'CNONLY-0007'`); err != nil {
		t.Fatal(err)
	}
	if status, _ := p.report("voucher_status", true); status != http.StatusOK {
		t.Fatalf("voucher_status: %d", status)
	}
	status, reason := p.enroll()
	if status != http.StatusOK {
		t.Fatalf("simpleenroll of a commonName-serial pledge: %d %.200q", status, reason)
	}
	wantPledge(t, d, "CNONLY-0007", store.StateEnrolled, 1)
	var subject string
	d.Pool().QueryRow(ctx, `SELECT c.subject FROM certificates c JOIN pledges p ON p.id = c.pledge_id WHERE p.serial = 'CNONLY-0007'`).Scan(&subject)
	if !strings.Contains(subject, "SERIALNUMBER=CNONLY-0007") {
		t.Fatalf("LDevID subject %q does not carry the tracked serial", subject)
	}
}

// cnOnlyIDevID is an IDevID of the sandbox manufacturer with its serial in
// commonName alone.
func cnOnlyIDevID(t *testing.T, d *sandbox.Deployment, serial string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	return testkit.IDevID(t, pkix.Name{CommonName: serial}, d.MASAServer.URL, d.MASAKeys.CACert, d.MASAKeys.CAKey)
}

// directPledge speaks RFC 8995 to a replica's direct mutual-TLS listener
// one request at a time, as a pledge that lies about its state would.
type directPledge struct {
	t      *testing.T
	hc     *http.Client
	base   string
	idevid tls.Certificate
	serial string
	key    *ecdsa.PrivateKey
}

// newSoldDirectPledge is a directPledge of a new device serial, sold to the
// deployment's domain.
func newSoldDirectPledge(t *testing.T, d *sandbox.Deployment, serial string) *directPledge {
	t.Helper()
	idevid, err := d.NewDevice(context.Background(), serial, true)
	if err != nil {
		t.Fatal(err)
	}
	return newDirectPledge(t, d, idevid, serial)
}

func newDirectPledge(t *testing.T, d *sandbox.Deployment, idevid tls.Certificate, serial string) *directPledge {
	key := testkit.Key(t)
	// RFC 8995 5.1: the pledge accepts the registrar provisionally.
	tr := &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{idevid}, InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	return &directPledge{t: t, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: d.Direct[0].URL, idevid: idevid, serial: serial, key: key}
}

func (p *directPledge) post(path, contentType string, body []byte) (*http.Response, string) {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := p.hc.Do(req)
	if err != nil {
		p.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, strings.TrimSpace(string(b))
}

// requestVoucher sends a pledge voucher-request (RFC 8995 5.2) pinning the
// registrar certificate of the connection.
func (p *directPledge) requestVoucher() (int, string) {
	p.t.Helper()
	resp, err := p.hc.Get(p.base + "/.well-known/est/cacerts") // to learn the registrar's certificate
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	registrarCert := resp.TLS.PeerCertificates[0]
	nonce, err := voucher.NewNonce()
	if err != nil {
		p.t.Fatal(err)
	}
	vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: p.serial, Nonce: nonce, RegistrarCert: registrarCert, CreatedOn: time.Now()})
	if err != nil {
		p.t.Fatal(err)
	}
	var chain []*x509.Certificate
	for _, der := range p.idevid.Certificate[1:] {
		c, _ := x509.ParseCertificate(der)
		chain = append(chain, c)
	}
	signer := &voucher.Signer{Cert: p.idevid.Leaf, Key: p.idevid.PrivateKey.(*ecdsa.PrivateKey), Chain: chain}
	body, err := signer.SignVoucherRequest(vr)
	if err != nil {
		p.t.Fatal(err)
	}
	resp, reason := p.post("/.well-known/brski/requestvoucher", pledge.MediaVoucherCMS, body)
	return resp.StatusCode, reason
}

// report posts voucher_status or enrollstatus telemetry (5.7, 5.9.4).
func (p *directPledge) report(endpoint string, status bool) (int, string) {
	p.t.Helper()
	resp, reason := p.post("/.well-known/brski/"+endpoint, "application/json", fmt.Appendf(nil, `{"version":1,"status":%t}`, status))
	return resp.StatusCode, reason
}

// enroll is simpleenroll (RFC 7030 4.2.1) with a clean CSR for the
// pledge's serial number.
func (p *directPledge) enroll() (int, string) {
	p.t.Helper()
	csr := testkit.CSR(p.t, p.key, pkix.Name{SerialNumber: p.serial, CommonName: p.serial})
	resp, reason := p.post("/.well-known/est/simpleenroll", "application/pkcs10", []byte(base64.StdEncoding.EncodeToString(csr)))
	return resp.StatusCode, reason
}

func wantRefusal(t *testing.T, status int, reason string, wantStatus int, wantReason string) {
	t.Helper()
	if status != wantStatus || !strings.Contains(reason, wantReason) {
		t.Fatalf("got %d %.200q, want %d with %q", status, reason, wantStatus, wantReason)
	}
}

// wantPledge checks the registrar's record of serial: its state and how
// many certificates were issued to it.
func wantPledge(t *testing.T, d *sandbox.Deployment, serial string, state store.State, certs int) {
	t.Helper()
	var got store.State
	var n int
	err := d.Pool().QueryRow(context.Background(), `SELECT p.state, (SELECT count(*) FROM certificates c WHERE c.pledge_id = p.id)
		FROM pledges p WHERE p.serial = $1`, serial).Scan(&got, &n)
	if err != nil {
		t.Fatalf("pledge %s: %v", serial, err)
	}
	if got != state || n != certs {
		t.Fatalf("pledge %s: state %s with %d certificates, want %s with %d", serial, got, n, state, certs)
	}
}

// sellElsewhere assigns serial at the MASA to a domain that is not the
// registrar's.
func sellElsewhere(t *testing.T, d *sandbox.Deployment, serial string) {
	t.Helper()
	ctx := context.Background()
	ca, _ := testkit.CA(t, "other.example Root CA")
	name := "other-" + strings.ToLower(serial)
	owner, err := d.MASA.CreateOwner(ctx, name, ca.Raw, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.MASA.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{serial}}, owner.ID, "test"); err != nil {
		t.Fatal(err)
	}
}

// subCADevice is a device whose IDevID a sub-CA of the manufacturer's
// IDevID CA issued: the pledge presents the sub-CA with it. The MASA knows
// the device by its serial number (imported) and it is sold to the
// registrar's domain.
func subCADevice(t *testing.T, d *sandbox.Deployment, serial string) tls.Certificate {
	t.Helper()
	ctx := context.Background()
	sub, subKey := testkit.Intermediate(t, "Example Manufacturer Line 7 CA", d.MASAKeys.CACert, d.MASAKeys.CAKey)
	leaf, key := testkit.IDevID(t, pkix.Name{SerialNumber: serial, CommonName: serial}, d.MASAServer.URL, sub, subKey)
	if _, err := d.MASA.ImportDevices(ctx, "json", fmt.Appendf(nil, `{"version":1,"devices":[{"serial-number":%q}]}`, serial), "factory"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.MASA.AssignOwner(ctx, masa.Selection{SerialNumbers: []string{serial}}, d.OwnerID, "sales"); err != nil {
		t.Fatal(err)
	}
	return testkit.TLSCert(leaf, key, sub)
}
