package registrar

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/pkg/enroll"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// The registrar's side of the JWS and COSE voucher formats (issue 15),
// without a database: the media types it takes and answers, the registrar
// voucher-request it builds in each format, and the voucher it relays.

// TestPledgeRequestMediaTypes: a request format the registrar does not
// take is 415 and an Accept it cannot meet 406, both before the pledge is
// identified or anything recorded (the fake store has no Anchors: reaching
// identify would panic).
func TestPledgeRequestMediaTypes(t *testing.T) {
	cases := []struct {
		name, contentType, accept string
		status                    int
		reason                    string
	}{
		{"no Content-Type", "", "", 415, "voucher-requests are one of application/voucher-cms+json, application/voucher-jws+json, application/voucher+cose"},
		{"JSON", "application/json", "", 415, "voucher-requests are one of"},
		{"PKCS#7", "application/pkcs7-mime", "", 415, "voucher-requests are one of"},
		{"CBOR voucher of another name", "application/voucher+cbor", "", 415, "voucher-requests are one of"},
		{"CMS, Accept JSON", voucher.MediaTypeVoucherCMS, "application/json", 406, "returns only application/voucher-cms+json, application/voucher-jws+json, application/voucher+cose vouchers"},
		{"JWS, Accept text", voucher.MediaTypeVoucherJWS, "text/plain", 406, "Accept names none"},
		{"COSE, every format refused", voucher.MediaTypeVoucherCOSE, "application/voucher+cose;q=0, application/voucher-cms+json;q=0, application/voucher-jws+json;q=0", 406, "Accept names none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecords{}
			masa := &fakeMASA{}
			rg := testRegistrar(rec, masa, ApprovalAuto)
			req := httptest.NewRequest(http.MethodPost, voucher.PathRequestVoucher, strings.NewReader("body"))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			_, err := rg.checkPledgeRequest(req)
			if status, _ := answerOf(t, err); status != tc.status || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("answer %d %q, want %d saying %q", status, err, tc.status, tc.reason)
			}
			if len(rec.exchanges) != 0 || len(rec.states) != 0 || masa.calls != 0 {
				t.Fatalf("recorded %d exchanges, %d states, asked the MASA %d times", len(rec.exchanges), len(rec.states), masa.calls)
			}
		})
	}
}

// formatsPKI is a domain (root, issuing CA, RA certificate) and a
// manufacturer (CA, MASA signer, one IDevID).
type formatsPKI struct {
	root, issuer, ra, mfg, masa, idevid keyed
	now                                 time.Time
}

type keyed struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newFormatsPKI(t testing.TB) *formatsPKI {
	// The real clock: the CMS signer stamps signing-time from it.
	now := time.Now().Truncate(time.Second)
	ca := func(name string, parent *keyed) keyed {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
		return issueKeyed(t, tmpl, parent)
	}
	p := &formatsPKI{now: now}
	p.root = ca("domain root", nil)
	p.issuer = ca("domain issuing CA", &p.root)
	p.ra = issueKeyed(t, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "registrar"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, UnknownExtKeyUsage: []asn1.ObjectIdentifier{OIDCmcRA},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, &p.issuer)
	p.mfg = ca("manufacturer", nil)
	p.masa = issueKeyed(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "MASA"}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, &p.mfg)
	p.idevid = issueKeyed(t, &x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{SerialNumber: "SN-1"}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, &p.mfg)
	return p
}

func issueKeyed(t testing.TB, tmpl *x509.Certificate, parent *keyed) keyed {
	t.Helper()
	if parent == nil {
		c, k := testkit.Issue(t, tmpl, nil, nil)
		return keyed{c, k}
	}
	c, k := testkit.Issue(t, tmpl, parent.cert, parent.key)
	return keyed{c, k}
}

// caCerts is the part of enroll.CA the voucher-request signer reads.
type caCerts struct {
	enroll.CA
	certs []*x509.Certificate
}

func (c caCerts) CACerts(context.Context) ([]*x509.Certificate, error) { return c.certs, nil }

// pledgeRequestAs is the pledge's request of format f, checked as
// checkPledgeRequest checks it.
func (p *formatsPKI) pledgeRequestAs(t testing.TB, f voucher.Format) *pledgeRequest {
	t.Helper()
	nonce, _ := voucher.NewNonce()
	vr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: "SN-1", Nonce: nonce, RegistrarCert: p.ra.cert, CreatedOn: p.now})
	if err != nil {
		t.Fatal(err)
	}
	body, err := (&voucher.Signer{Cert: p.idevid.cert, Key: p.idevid.key, COSE: voucher.COSEOptions{Certs: voucher.COSENoCerts}}).SignVoucherRequestAs(f, vr)
	if err != nil {
		t.Fatal(err)
	}
	checked, err := voucher.CheckPledgeRequest(body, voucher.PledgeRequestCheck{PeerCert: p.idevid.cert, RegistrarCert: p.ra.cert, At: p.now, Format: f})
	if err != nil {
		t.Fatal(err)
	}
	return &pledgeRequest{
		pledge: &Pledge{Chain: []*x509.Certificate{p.idevid.cert}, IDevID: p.idevid.cert, Serial: "SN-1",
			Manufacturer: store.Anchor{Manufacturer: store.Manufacturer{ID: 7, MASAURL: "masa.example"}}},
		body: body, format: f, answer: f, checked: checked,
	}
}

// TestRegistrarVoucherRequestFormats: the registrar voucher-request is in
// the pledge's format, wraps the pledge's bytes, passes the MASA's checks
// for that format, and carries the chain up to the domain root, which a
// MASA pinning the farthest certificate therefore pins; the COSE request's
// x5bag carries the IDevID the pledge's COSE request leaves out. The RA
// certificate as configured carries only its issuing CA, as InitState
// writes it: the root comes from the CA backend.
func TestRegistrarVoucherRequestFormats(t *testing.T) {
	p := newFormatsPKI(t)
	mfgRoots := x509.NewCertPool()
	mfgRoots.AddCert(p.mfg.cert)
	for _, f := range voucher.Formats {
		t.Run(f.String(), func(t *testing.T) {
			rg := testRegistrar(&fakeRecords{}, &fakeMASA{}, ApprovalAuto)
			rg.cfg.Now = func() time.Time { return p.now }
			rg.raSigner = &voucher.Signer{Cert: p.ra.cert, Key: p.ra.key, Chain: []*x509.Certificate{p.issuer.cert}}
			rg.ca = caCerts{certs: []*x509.Certificate{p.issuer.cert, p.root.cert}}
			pr := p.pledgeRequestAs(t, f)
			rvr, err := rg.registrarVoucherRequest(context.Background(), pr)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := voucher.DetectFormat(rvr); !ok || got != f {
				t.Fatalf("registrar voucher-request is %v (%v)", got, ok)
			}
			// The MASA's own checks (internal/masa: no domain anchor, the
			// manufacturer's roots for the prior request).
			rr, err := voucher.CheckRegistrarRequest(rvr, voucher.RegistrarRequestCheck{ManufacturerRoots: mfgRoots, At: p.now, AllowNoPrior: true, Format: f})
			if err != nil {
				t.Fatalf("the MASA refuses it: %v", err)
			}
			if !bytes.Equal(rr.Request.PriorSignedVoucherRequest, pr.body) || !rr.IDevID.Equal(p.idevid.cert) || rr.Request.Nonce != pr.checked.Request.Nonce {
				t.Fatalf("prior-signed-voucher-request is not the pledge's request")
			}
			if !rr.DomainCert.Equal(p.root.cert) || len(rr.RegistrarChain) != 3 {
				t.Fatalf("the MASA pins %q at the end of a chain of %d", rr.DomainCert.Subject, len(rr.RegistrarChain))
			}
			carriesIDevID := false
			for _, c := range rr.Certificates {
				carriesIDevID = carriesIDevID || c.Equal(p.idevid.cert)
			}
			if carriesIDevID != (f == voucher.FormatCOSE) {
				t.Fatalf("%s request carries the IDevID: %v", f, carriesIDevID)
			}
		})
	}
	t.Run("CA unreachable: the configured chain", func(t *testing.T) {
		rg := testRegistrar(&fakeRecords{}, &fakeMASA{}, ApprovalAuto)
		rg.cfg.Now = func() time.Time { return p.now }
		rg.raSigner = &voucher.Signer{Cert: p.ra.cert, Key: p.ra.key, Chain: []*x509.Certificate{p.issuer.cert}}
		rg.ca = unreachableCA{}
		rvr, err := rg.registrarVoucherRequest(context.Background(), p.pledgeRequestAs(t, voucher.FormatCMS))
		if err != nil {
			t.Fatal(err)
		}
		rr, err := voucher.CheckRegistrarRequest(rvr, voucher.RegistrarRequestCheck{ManufacturerRoots: mfgRoots, At: p.now})
		if err != nil || !rr.DomainCert.Equal(p.issuer.cert) {
			t.Fatalf("%v, pins %v", err, rr)
		}
	})
}

type unreachableCA struct{ enroll.CA }

func (unreachableCA) CACerts(context.Context) ([]*x509.Certificate, error) {
	return nil, &enroll.Error{Status: http.StatusServiceUnavailable, Reason: "down"}
}

// TestRelayFormats: the registrar asks the MASA for the pledge's format,
// passes its voucher on (a COSE voucher without the MASA's x5bag, which
// the pledge then verifies with the MASA certificate it holds) and records
// the MASA's bytes; a voucher of another format than asked is 502 and
// recorded as rejected.
func TestRelayFormats(t *testing.T) {
	p := newFormatsPKI(t)
	mfgRoots := x509.NewCertPool()
	mfgRoots.AddCert(p.mfg.cert)
	masaSigner := &voucher.Signer{Cert: p.masa.cert, Key: p.masa.key}
	voucherAs := func(f voucher.Format, nonce string) []byte {
		v, err := voucher.NewVoucher(&voucher.VoucherRequest{Artifact: voucher.Artifact{SerialNumber: "SN-1", Nonce: nonce}},
			voucher.VoucherParams{Assertion: voucher.AssertionProximity, DomainCert: p.root.cert, CreatedOn: p.now})
		if err != nil {
			t.Fatal(err)
		}
		b, err := masaSigner.SignVoucherAs(f, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, f := range voucher.Formats {
		t.Run(f.String(), func(t *testing.T) {
			pr := p.pledgeRequestAs(t, f)
			nonce := pr.checked.Request.Nonce
			fromMASA := voucherAs(f, nonce)
			rec := &fakeRecords{}
			masa := &fakeMASA{voucher: fromMASA}
			rg := testRegistrar(rec, masa, ApprovalAuto)
			got, err := rg.relayToMASA(context.Background(), pr, &store.Pledge{ID: 1}, store.Exchange{PledgeID: 1, RegistrarRequest: []byte("rvr")})
			if err != nil {
				t.Fatal(err)
			}
			if masa.format != f || masa.answer != f {
				t.Fatalf("asked the MASA with %v for %v", masa.format, masa.answer)
			}
			if len(rec.exchanges) != 1 || !bytes.Equal(rec.exchanges[0].Voucher, fromMASA) || rec.exchanges[0].Outcome != store.OutcomeIssued {
				t.Fatalf("recorded %+v", rec.exchanges)
			}
			check := voucher.VoucherCheck{ManufacturerRoots: mfgRoots, SerialNumber: "SN-1", Nonce: nonce, At: p.now, Format: f}
			if f == voucher.FormatCOSE {
				if len(got) >= len(fromMASA) {
					t.Fatalf("COSE voucher relayed with its certificates (%d of %d bytes)", len(got), len(fromMASA))
				}
				if _, err := voucher.CheckVoucher(got, check); !errors.Is(err, voucher.ErrNoSignerCert) {
					t.Fatalf("stripped voucher verified without the MASA certificate: %v", err)
				}
			} else if !bytes.Equal(got, fromMASA) {
				t.Fatal("voucher changed on the way")
			}
			check.MASACerts = []*x509.Certificate{p.masa.cert}
			if _, err := voucher.CheckVoucher(got, check); err != nil {
				t.Fatalf("the pledge refuses the relayed voucher: %v", err)
			}
		})
	}
	for _, tc := range []struct{ asked, sent voucher.Format }{{voucher.FormatJWS, voucher.FormatCMS}, {voucher.FormatCOSE, voucher.FormatJWS}, {voucher.FormatCMS, voucher.FormatCOSE}} {
		t.Run(tc.asked.String()+" asked, "+tc.sent.String()+" sent", func(t *testing.T) {
			pr := p.pledgeRequestAs(t, tc.asked)
			rec := &fakeRecords{}
			rg := testRegistrar(rec, &fakeMASA{voucher: voucherAs(tc.sent, pr.checked.Request.Nonce)}, ApprovalAuto)
			_, err := rg.relayToMASA(context.Background(), pr, &store.Pledge{ID: 1}, store.Exchange{PledgeID: 1})
			if status, _ := answerOf(t, err); status != http.StatusBadGateway {
				t.Fatalf("answer %d (%v), want 502", status, err)
			}
			if len(rec.exchanges) != 1 || rec.exchanges[0].Outcome != store.OutcomeRejected {
				t.Fatalf("recorded %+v, want one rejected exchange", rec.exchanges)
			}
		})
	}
}

// BenchmarkRegistrarVoucherRequest signs a registrar voucher-request in
// each format, with the chain completed up to the domain root from the CA
// backend ("to-root") and with the RA certificate file's chain as it is
// ("configured", no CA): the chain is searched once, so the two cost the
// same.
func BenchmarkRegistrarVoucherRequest(b *testing.B) {
	p := newFormatsPKI(b)
	for _, f := range voucher.Formats {
		pr := p.pledgeRequestAs(b, f)
		for _, withCA := range []bool{true, false} {
			name := f.String() + "/configured"
			if withCA {
				name = f.String() + "/to-root"
			}
			b.Run(name, func(b *testing.B) {
				rg := testRegistrar(&fakeRecords{}, &fakeMASA{}, ApprovalAuto)
				rg.cfg.Now = func() time.Time { return p.now }
				rg.raSigner = &voucher.Signer{Cert: p.ra.cert, Key: p.ra.key, Chain: []*x509.Certificate{p.issuer.cert}}
				if withCA {
					rg.ca = caCerts{certs: []*x509.Certificate{p.issuer.cert, p.root.cert}}
				}
				for b.Loop() {
					if _, err := rg.registrarVoucherRequest(context.Background(), pr); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
