package voucher

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
	"time"
)

func TestAppendixCIDevID(t *testing.T) {
	idevid := readCert(t, "rfc8995-appendix-c/idevid_00-D0-E5-F2-00-02.crt")
	tests := []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"X520SerialNumber", func() (string, error) { return SerialFromX520(idevid) }, appendixSerial},
		{"MASA URL", func() (string, error) { return MASAURL(idevid) }, "highway-test.example.com:9443"},
		{"MASA base URI", func() (string, error) { return MASABaseURI(idevid) }, "https://highway-test.example.com:9443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := SerialFromHardwareModuleName(idevid); !errors.Is(err, ErrMissingLeaf) {
		t.Errorf("HardwareModuleName: %v", err)
	}
}

// idevid-issuer is the whole AKI extnValue (rfc8366bis), and the registrar
// request carries it.
func TestIDevIDIssuerIsWholeAKI(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	got, err := IDevIDIssuer(p.idevid)
	if err != nil {
		t.Fatal(err)
	}
	var extnValue []byte // rfc8366bis: the extnValue OCTET STRING itself
	var aki struct {
		KeyID []byte `asn1:"optional,tag:0"`
	}
	if _, err := asn1.Unmarshal(got, &extnValue); err != nil {
		t.Fatalf("idevid-issuer %x is not an OCTET STRING: %v", got, err)
	}
	if _, err := asn1.Unmarshal(extnValue, &aki); err != nil || !bytes.Equal(aki.KeyID, p.mfgCA.SubjectKeyId) {
		t.Fatalf("AKI %x does not wrap the CA's key id: %v", got, err)
	}
	pledge, _ := p.pledgeRequest(t, "n")
	rr, err := CheckRegistrarRequest(p.registrarRequest(t, pledge, nil), RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rr.Request.IDevIDIssuer, got) {
		t.Error("registrar request lacks idevid-issuer")
	}
	v, err := NewVoucher(rr.Request, VoucherParams{Assertion: AssertionLogged, DomainCert: rr.DomainCert, CreatedOn: p.now})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.IDevIDIssuer, got) || v.Nonce != "n" || v.SerialNumber != p.serial {
		t.Error("voucher does not answer the request")
	}
}

func TestSerialFromHardwareModuleName(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	hmn, _ := asn1.Marshal(struct {
		HwType      asn1.ObjectIdentifier
		HwSerialNum []byte
	}{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, []byte("HW-42")})
	// otherName ::= [0] { type-id, [0] EXPLICIT value }
	otherName, _ := asn1.MarshalWithParams(struct {
		TypeID asn1.ObjectIdentifier
		Value  asn1.RawValue
	}{OIDHardwareModuleName, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: hmn}}, "tag:0")
	san, _ := asn1.Marshal([]asn1.RawValue{{FullBytes: otherName}})
	k := newKey(t, elliptic.P256())
	cert := issue(t, &x509.Certificate{
		NotBefore: p.now, NotAfter: p.now.Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: oidSubjectAltName, Value: san}},
	}, p.mfgCA, k.Public(), p.mfgKey)
	got, err := SerialFromHardwareModuleName(cert)
	if err != nil || got != "HW-42" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// The whole exchange, as the three roles run it.
func TestPledgeRegistrarMASAExchange(t *testing.T) {
	for _, cv := range curves {
		t.Run(cv.name, func(t *testing.T) {
			p := newPKI(t, cv.curve)
			nonce, err := NewNonce()
			if err != nil {
				t.Fatal(err)
			}
			// Pledge.
			preq, err := NewPledgeRequest(PledgeRequestParams{SerialNumber: p.serial, Nonce: nonce, RegistrarCert: p.registrar, CreatedOn: p.now})
			if err != nil {
				t.Fatal(err)
			}
			pcms, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).SignVoucherRequest(preq)
			if err != nil {
				t.Fatal(err)
			}
			// Registrar.
			pr, err := CheckPledgeRequest(pcms, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
			if err != nil {
				t.Fatal(err)
			}
			rreq, err := NewRegistrarRequest(pr.CMS, pr.Request, pr.IDevID, p.now)
			if err != nil {
				t.Fatal(err)
			}
			rcms, err := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).SignVoucherRequest(rreq)
			if err != nil {
				t.Fatal(err)
			}
			// MASA, trusting any registrar and pinning its carried anchor.
			rr, err := CheckRegistrarRequest(rcms, RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
			if err != nil {
				t.Fatal(err)
			}
			v, err := NewVoucher(rr.Request, VoucherParams{Assertion: AssertionLogged, DomainCert: rr.DomainCert, CreatedOn: p.now})
			if err != nil {
				t.Fatal(err)
			}
			vcms, err := (&Signer{Cert: p.masa, Key: p.masaKey}).SignVoucher(v)
			if err != nil {
				t.Fatal(err)
			}
			if sc, _ := ParseSigned(vcms); !sc.ContentType.Equal(OIDAnimaJSONVoucher) {
				t.Errorf("default eContentType %s", sc.ContentType)
			}
			// Pledge.
			av, err := CheckVoucher(vcms, p.voucherCheck(nonce))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(av.PinnedDomainCert.Raw, p.domainCA.Raw) {
				t.Error("pledge pins the wrong domain")
			}
		})
	}
}
