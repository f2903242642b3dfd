package masa

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// memStore is the little of Store that RequestVoucher needs, in memory:
// one device, owned by the Appendix C domain.
type memStore struct {
	Store // other methods are not called
	rec   DeviceRecord
}

func (m *memStore) DeviceRecord(_ context.Context, serial string) (DeviceRecord, error) {
	if serial != m.rec.SerialNumber {
		return DeviceRecord{}, ErrNotFound
	}
	r := m.rec
	o := *m.rec.Owner
	r.Owner = &o
	return r, nil
}

func (m *memStore) OwnersByAnchor(context.Context, [][]byte, []string) ([]Owner, error) {
	return []Owner{*m.rec.Owner}, nil
}

func (m *memStore) VoucherByRequest(context.Context, []byte) (VoucherRecord, error) {
	return VoucherRecord{}, ErrNotFound
}

func (m *memStore) RecordVoucher(_ context.Context, v VoucherRecord, _ *Owner) (VoucherRecord, error) {
	return v, nil
}

func readAppendixB64(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join(appendixC, name))
	if err != nil {
		t.Fatal(err)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func issueTestCert(t testing.TB, tmpl *x509.Certificate, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	tmpl.NotBefore, tmpl.NotAfter = fuzzNow.Add(-time.Hour), fuzzNow.Add(time.Hour)
	return testkit.Issue(t, tmpl, parent, parentKey)
}

var fuzzNow = time.Now().UTC().Truncate(time.Second)

// FuzzRequestVoucher feeds arbitrary bodies to the voucher decision of a
// MASA that owns one device: it never panics, and whatever it refuses it
// refuses with a 4xx (or 202) *Error, never an internal error. The PKI is
// P-256 throughout; even so, fuzzing runs only a few inputs a second,
// because -fuzz instruments the signature arithmetic too.
func FuzzRequestVoucher(f *testing.F) {
	ca, caKey := issueTestCert(f, &x509.Certificate{Subject: pkix.Name{CommonName: "maker"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	signer, signerKey := issueTestCert(f, &x509.Certificate{Subject: pkix.Name{CommonName: "masa"}}, ca, caKey)
	domain, domainKey := issueTestCert(f, &x509.Certificate{Subject: pkix.Name{CommonName: "domain"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	ra, raKey := issueTestCert(f, &x509.Certificate{Subject: pkix.Name{CommonName: "registrar"}, UnknownExtKeyUsage: []asn1.ObjectIdentifier{voucher.OIDCmcRA}}, domain, domainKey)
	idevid, idevidKey := issueTestCert(f, &x509.Certificate{Subject: pkix.Name{SerialNumber: "FZ-1"}}, ca, caKey)

	svc, err := New(Config{
		Store: &memStore{rec: DeviceRecord{
			Device: Device{SerialNumber: "FZ-1", Status: DeviceActive, OwnerID: 1},
			Owner:  &Owner{ID: 1, CACert: domain.Raw, DomainID: DomainID(domain)},
		}},
		Signer:   &voucher.Signer{Cert: signer, Key: signerKey},
		IDevIDCA: ca,
		Clock:    func() time.Time { return fuzzNow },
	})
	if err != nil {
		f.Fatal(err)
	}
	pr, err := voucher.NewPledgeRequest(voucher.PledgeRequestParams{SerialNumber: "FZ-1", Nonce: "fuzz-nonce", RegistrarCert: ra, CreatedOn: fuzzNow})
	if err != nil {
		f.Fatal(err)
	}
	prCMS, err := (&voucher.Signer{Cert: idevid, Key: idevidKey}).SignVoucherRequest(pr)
	if err != nil {
		f.Fatal(err)
	}
	rr, err := voucher.NewRegistrarRequest(prCMS, pr, idevid, fuzzNow)
	if err != nil {
		f.Fatal(err)
	}
	good, err := (&voucher.Signer{Cert: ra, Key: raKey, Chain: []*x509.Certificate{domain}}).SignVoucherRequest(rr)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := svc.RequestVoucher(context.Background(), VoucherRequest{Body: good}); err != nil {
		f.Fatalf("the well-formed request is refused: %v", err)
	}
	f.Add(good)
	f.Add(prCMS)
	f.Add(readAppendixB64(f, "vr_00-D0-E5-F2-00-02.b64"))
	f.Add([]byte("not CMS"))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := svc.RequestVoucher(context.Background(), VoucherRequest{Body: body})
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || (e.Status != http.StatusAccepted && (e.Status < 400 || e.Status >= 500)) {
			t.Fatalf("refused without a 4xx: %v", err)
		}
	})
}
