package enroll

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// forgedCSR is a CSR asking for names or usages registrar policy does not
// give the device, and the reason the server must name.
type forgedCSR struct {
	name   string
	opts   csrOpts
	reason string
}

// forgedCSRs are the requests of issue 11 item 2, for a device with serial
// serial: a subject naming the registrar or the domain CA, each SAN type,
// a wildcard, server and registrar usages.
func forgedCSRs(t testing.TB, serial string) []forgedCSR {
	san := func(names ...string) []pkix.Extension {
		ext, err := marshalSANExtension(names)
		if err != nil {
			t.Fatal(err)
		}
		return []pkix.Extension{ext}
	}
	eku := func(oids ...asn1.ObjectIdentifier) []pkix.Extension {
		return []pkix.Extension{{Id: OIDExtExtendedKeyUsage, Value: mustMarshal(t, oids)}}
	}
	sn := pkix.Name{SerialNumber: serial}
	return []forgedCSR{
		{"subject-forged", csrOpts{subject: pkix.Name{SerialNumber: serial, CommonName: "registrar.example.net", OrganizationalUnit: []string{"Domain CA"}}}, "CSR subject requests"},
		{"subject-ou", csrOpts{subject: pkix.Name{SerialNumber: serial, OrganizationalUnit: []string{"Domain CA"}}}, "CSR subject requests OU=Domain CA"},
		{"subject-cn", csrOpts{subject: pkix.Name{SerialNumber: serial, CommonName: serial + "-OTHER"}}, "CSR subject requests CN=" + serial + "-OTHER"},
		{"san-dns", csrOpts{subject: sn, exts: san("registrar.example.net")}, "subjectAltName DNS:registrar.example.net"},
		{"san-wildcard", csrOpts{subject: sn, exts: san("*.example.net")}, "subjectAltName DNS:*.example.net"},
		{"san-ip", csrOpts{subject: sn, exts: san("192.0.2.1")}, "subjectAltName IP:192.0.2.1"},
		{"san-email", csrOpts{subject: sn, exts: san("admin@example.net")}, "subjectAltName email:admin@example.net"},
		{"san-uri", csrOpts{subject: sn, exts: san("https://registrar.example.net/")}, "subjectAltName URI:https://registrar.example.net/"},
		{"san-othername", csrOpts{subject: sn, exts: []pkix.Extension{{Id: OIDExtSubjectAltName,
			Value: mustMarshal(t, []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true,
				Bytes: append(mustMarshal(t, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 4}), mustMarshal(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(t, "x")})...)}})}}},
			"subjectAltName of type otherName"},
		{"eku-serverauth", csrOpts{subject: sn, exts: eku(oidKPServerAuth)}, "extended key usage serverAuth"},
		{"eku-cmcra", csrOpts{subject: sn, exts: eku(oidKPClientAuth, oidKPCmcRA)}, "extended key usage id-kp-cmcRA"},
	}
}

// expectRefusals posts every forged CSR to op and requires 403 with the
// reason, and that no certificate was issued (the hook never ran).
func expectRefusals(t *testing.T, op string, s http.Handler, issued *int, peer *Peer, key crypto.Signer, serial string) {
	t.Helper()
	for _, f := range forgedCSRs(t, serial) {
		t.Run(op+"/"+f.name, func(t *testing.T) {
			before := *issued
			w := do(t, s, "POST", est+"/"+op, makeCSR(t, key, f.opts), peer)
			if w.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", w.Code, w.Body)
			}
			if !strings.Contains(w.Body.String(), f.reason) {
				t.Errorf("reason %q lacks %q", w.Body, f.reason)
			}
			if *issued != before {
				t.Error("a certificate was issued")
			}
		})
	}
}

// TestCSRNamesRefused: with the embedded CA, a CSR asking for a forged
// subject, any SAN, a wildcard or a server/registrar usage is refused
// (403, reason naming the request) on simpleenroll, simplereenroll and
// serverkeygen, and no certificate is issued; the clean CSR gets exactly
// the policy's names.
func TestCSRNamesRefused(t *testing.T) {
	p := newTestPKI(t)
	issued := 0
	s := newTestServer(t, WithIssuedHook(func(context.Context, *Issuance) error { issued++; return nil }))
	chain, key := p.idevid(t, "SN-FORGE")
	expectRefusals(t, "simpleenroll", s, &issued, &Peer{Chain: chain}, key, "SN-FORGE")
	expectRefusals(t, "serverkeygen", s, &issued, &Peer{Chain: chain}, key, "SN-FORGE")

	w := do(t, s, "POST", est+"/simpleenroll", makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-FORGE"}}), &Peer{Chain: chain})
	if w.Code != 200 || issued != 1 {
		t.Fatalf("clean CSR: %d %s (issued %d)", w.Code, w.Body, issued)
	}
	certs, err := ParseCertsOnly(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	checkLDevID(t, p, certs[0], "SN-FORGE", key.Public())
	checkLDevIDWithOpenSSL(t, certs[0], "SN-FORGE", []string{"DNS:SN-FORGE.pledges.test.example"})

	ldev := &Peer{Chain: []*x509.Certificate{certs[0], p.domainIssuer}}
	expectRefusals(t, "simplereenroll", s, &issued, ldev, mustKey(t), "SN-FORGE")
}

// checkLDevIDWithOpenSSL reads c with `openssl x509 -noout -text`, an
// independent parser, and requires subject serialNumber=<serial>,CN=<serial>,
// exactly the SANs given (none: no subjectAltName extension), extended
// key usage TLS Web Client Authentication alone, key usage Digital
// Signature alone, and CA:FALSE.
func checkLDevIDWithOpenSSL(t *testing.T, c *x509.Certificate, serial string, sans []string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		// The LDevID policy check must not pass quietly without its
		// independent reader: scripts/deps.sh installs openssl.
		t.Fatal("openssl not installed (scripts/deps.sh installs it)")
	}
	text := runOpenSSL(t, c.Raw, "x509", "-inform", "DER", "-noout", "-text", "-nameopt", "RFC2253")
	field := func(header string) (string, bool) {
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if strings.Contains(l, header) && i+1 < len(lines) {
				return strings.TrimSpace(lines[i+1]), true
			}
		}
		return "", false
	}
	var subject string
	for _, l := range strings.Split(text, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "Subject: "); ok {
			subject = s
		}
	}
	if want := "serialNumber=" + serial + ",CN=" + serial; subject != want {
		t.Errorf("openssl subject %q, want %q", subject, want)
	}
	gotSANs, ok := field("X509v3 Subject Alternative Name")
	switch {
	case len(sans) == 0 && ok:
		t.Errorf("openssl shows subjectAltName %q, want none", gotSANs)
	case len(sans) > 0 && gotSANs != strings.Join(sans, ", "):
		t.Errorf("openssl subjectAltName %q, want %q", gotSANs, strings.Join(sans, ", "))
	}
	if eku, _ := field("X509v3 Extended Key Usage"); eku != "TLS Web Client Authentication" {
		t.Errorf("openssl extended key usage %q, want TLS Web Client Authentication only", eku)
	}
	if ku, _ := field("X509v3 Key Usage"); ku != "Digital Signature" {
		t.Errorf("openssl key usage %q, want Digital Signature only", ku)
	}
	if bc, _ := field("X509v3 Basic Constraints"); bc != "CA:FALSE" {
		t.Errorf("openssl basic constraints %q", bc)
	}
}

func TestNameTemplates(t *testing.T) {
	good := []struct {
		kind NameKind
		text string
		want string
	}{
		{NameDNS, "{{.SerialNumber}}.devices.example.net", "SN1.devices.example.net"},
		{NameURI, "urn:dev:serial:{{.SerialNumber}}", "urn:dev:serial:SN1"},
		{NameURI, "https://devices.example.net/{{.SerialNumber | urlquery}}", "https://devices.example.net/SN1"},
	}
	for _, g := range good {
		tmpl, err := ParseNameTemplate(g.kind, g.text)
		if err != nil {
			t.Fatalf("%q: %v", g.text, err)
		}
		if got, err := tmpl.Render("SN1"); err != nil || got != g.want {
			t.Errorf("%q rendered %q (%v), want %q", g.text, got, err, g.want)
		}
	}
	bad := []struct {
		kind   NameKind
		text   string
		reason string
	}{
		{NameDNS, "", "empty"},
		{NameDNS, "{{.SerialNumber", "unclosed"},
		{NameDNS, "{{.Serial}}.example.net", "can't evaluate field Serial"},
		{NameDNS, "*.{{.SerialNumber}}.example.net", "wildcard"},
		{NameDNS, "{{.SerialNumber}}.example.net.", "invalid label"},
		{NameDNS, "{{.SerialNumber}} .example.net", "invalid character"},
		{NameDNS, "registrar.example.net", "same name"},
		{NameURI, "dev/{{.SerialNumber}}", "not an absolute URI"},
		{NameURI, "https://x.example/%zz{{.SerialNumber}}", "invalid URL escape"},
		{NameKind(9), "x{{.SerialNumber}}", "unknown kind"},
	}
	for _, b := range bad {
		_, err := ParseNameTemplate(b.kind, b.text)
		if err == nil || !strings.Contains(err.Error(), b.reason) {
			t.Errorf("%v %q: err %v, want %q", b.kind, b.text, err, b.reason)
		}
	}
	// A serial that makes an invalid name is refused at enrollment (403).
	tmpl, _ := ParseNameTemplate(NameDNS, "{{.SerialNumber}}.example.net")
	if _, err := NamesForSerial("SN 1", tmpl); statusOf(err) != http.StatusForbidden {
		t.Errorf("serial with a space: %v", err)
	}
}

func TestCheckRequestedNamesAllows(t *testing.T) {
	uri, _ := ParseNameTemplate(NameURI, "urn:dev:serial:{{.SerialNumber}}")
	names, err := NamesForSerial("SN-A", uri)
	if err != nil {
		t.Fatal(err)
	}
	key := mustKey(t)
	san, _ := marshalSANExtension([]string{"urn:dev:serial:SN-A"})
	ok := []csrOpts{
		{},
		{subject: pkix.Name{SerialNumber: "SN-A"}},
		{subject: pkix.Name{SerialNumber: "SN-A"}, exts: []pkix.Extension{san}},
	}
	for _, o := range ok {
		if err := checkRequestedNames(mustParseCSRT(t, makeCSR(t, key, o)), names); err != nil {
			t.Errorf("%+v refused: %v", o, err)
		}
	}
	other, _ := marshalSANExtension([]string{"urn:dev:serial:SN-B"})
	if err := checkRequestedNames(mustParseCSRT(t, makeCSR(t, key, csrOpts{exts: []pkix.Extension{other}})), names); statusOf(err) != http.StatusForbidden {
		t.Errorf("another device's URI: %v", err)
	}
}
