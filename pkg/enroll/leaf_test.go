package enroll

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net"
	"net/url"
	"reflect"
	"testing"

	"github.com/smallstep/certificates/authority/provisioner"
	"go.step.sm/crypto/x509util"
)

// templateLeaf is the smallstep certificate template the registrar used
// before leafOptions: newLeafOptions must give smallstep exactly what
// executing it gives.
const templateLeaf = `{
	"subject": {{ toJson .Subject }},
	"sans": {{ toJson .SANs }},
	"keyUsage": ["digitalSignature"],
	"extKeyUsage": ["clientAuth"],
	"basicConstraints": {"isCA": false}
}`

// TestLeafOptionsMatchTemplate: for names with every kind of SAN, extra
// subject attributes and JSON-hostile characters, smallstep builds the
// same certificate from leafOptions as from the template.
func TestLeafOptionsMatchTemplate(t *testing.T) {
	csr, err := x509.ParseCertificateRequest(makeCSR(t, mustKey(t), csrOpts{subject: pkix.Name{CommonName: "from the CSR"}, dns: []string{"csr.example"}}))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(`urn:x-landfall:"quoted"<&>`)
	cases := map[string]*CertificateNames{
		"serial only": {Subject: pkix.Name{SerialNumber: "SN-1"}},
		"all names": {
			Subject: pkix.Name{
				SerialNumber: `S"N\2<>&`, CommonName: "pledge \u00e9", Organization: []string{"Org", "Org 2"},
				Country: []string{"DE"}, OrganizationalUnit: []string{"OU"}, Locality: []string{"L"},
				ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 65}, Value: "pseudonym"}},
			},
			DNSNames:       []string{"a.example", "b.example"},
			EmailAddresses: []string{"pledge@example.com"},
			IPAddresses:    []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1")},
			URIs:           []*url.URL{u},
		},
	}
	for name, names := range cases {
		t.Run(name, func(t *testing.T) {
			data := x509util.NewTemplateData()
			data.SetSubject(templateSubject(names.Subject))
			data.SetSubjectAlternativeNames(templateSANs(names)...)
			data.SetCertificateRequest(csr)
			tmpl, err := provisioner.CustomTemplateOptions(nil, data, templateLeaf)
			if err != nil {
				t.Fatal(err)
			}
			want, err := x509util.NewCertificate(csr, tmpl.Options(provisioner.SignOptions{})...)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := newLeafOptions(names)
			if err != nil {
				t.Fatal(err)
			}
			got, err := x509util.NewCertificate(csr, leaf.Options(provisioner.SignOptions{})...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.GetCertificate(), want.GetCertificate()) {
				t.Fatalf("leafOptions give\n%+v\nthe template\n%+v", got.GetCertificate(), want.GetCertificate())
			}
			if c := got.GetCertificate(); c.Subject.CommonName == "from the CSR" || len(c.DNSNames) > 0 && c.DNSNames[0] == "csr.example" ||
				c.KeyUsage != x509.KeyUsageDigitalSignature || !reflect.DeepEqual(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || c.IsCA {
				t.Fatalf("names or usages not the policy's: %+v", c)
			}
		})
	}
}
