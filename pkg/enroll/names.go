package enroll

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// CertificateNames are the subject and subjectAltNames of a domain
// certificate (LDevID), decided by the server's NamePolicy and never taken
// from the CSR (DESIGN decision 13). RFC 7030 section 4.2.1 leaves the
// names to the CA ("the EST server MAY ... replace ... the Subject and
// SubjectAltName"); RFC 8995 section 5.9.2 identifies the pledge by the
// serial number the registrar verified. Both CA backends issue exactly
// these names, and the server refuses a CSR that asks for any other
// (see checkRequestedNames).
type CertificateNames struct {
	Subject        pkix.Name
	DNSNames       []string
	EmailAddresses []string
	IPAddresses    []net.IP
	URIs           []*url.URL
}

// NamePolicy computes the names of the certificate an authenticated
// request gets: the IDevID's identity on simpleenroll and serverkeygen, the
// identity of the certificate being renewed on simplereenroll (req.Renewing
// set), recomputed rather than copied. It is also asked, with Operation
// OpCSRAttrs and no CSR, what csrattrs should announce to an authenticated
// client. Return an *Error (403) to refuse.
type NamePolicy func(ctx context.Context, req *AuthzRequest) (*CertificateNames, error)

// WithNamePolicy sets how the names of issued certificates are decided.
// Default: SerialNumberNames(), the client certificate's subject
// serialNumber and no subjectAltNames.
func WithNamePolicy(p NamePolicy) Option { return func(s *Server) { s.names = p } }

// SerialNumberNames is the NamePolicy of a deployment that names devices by
// the subject serialNumber (2.5.4.5) of their certificate (RFC 8995 section
// 2.3.1): the subject is serialNumber=<serial> and commonName=<serial> (the
// serial again, for tools that show only the commonName), and the SANs are
// the templates rendered with that serial. On renewal the serial is the one
// of the certificate being renewed.
func SerialNumberNames(templates ...*NameTemplate) NamePolicy {
	return func(_ context.Context, req *AuthzRequest) (*CertificateNames, error) {
		cert := req.Peer.Leaf()
		if req.Renewing != nil {
			cert = req.Renewing
		}
		if cert == nil || cert.Subject.SerialNumber == "" {
			return nil, ErrForbidden("client certificate carries no subject serialNumber")
		}
		return NamesForSerial(cert.Subject.SerialNumber, templates...)
	}
}

// NamesForSerial returns the names of a device with the given serial:
// subject serialNumber=<serial> and CN=<serial>, and one SAN per template
// rendered with it.
func NamesForSerial(serial string, templates ...*NameTemplate) (*CertificateNames, error) {
	if serial == "" {
		return nil, ErrForbidden("no serial number to name the certificate after")
	}
	n := &CertificateNames{Subject: pkix.Name{SerialNumber: serial, CommonName: serial}}
	for _, t := range templates {
		s, err := t.Render(serial)
		if err != nil {
			return nil, newError(403, err, "cannot name a certificate for serial %q: %v", serial, err)
		}
		switch t.kind {
		case NameDNS:
			n.DNSNames = append(n.DNSNames, s)
		case NameURI:
			u, _ := url.Parse(s) // Render checked it parses
			n.URIs = append(n.URIs, u)
		}
	}
	return n, nil
}

// Validate checks names before a CA signs them: a non-empty subject, DNS
// names that are valid host names and no wildcards (a device is one host,
// RFC 6125 section 6.4.3), absolute URIs (RFC 3986 section 4.3) and
// addr-spec e-mail addresses with a domain.
func (n *CertificateNames) Validate() error {
	if n == nil {
		return fmt.Errorf("no certificate names")
	}
	if len(n.Subject.ToRDNSequence()) == 0 {
		return fmt.Errorf("empty subject")
	}
	for _, d := range n.DNSNames {
		if err := validDNSName(d); err != nil {
			return err
		}
	}
	for _, u := range n.URIs {
		if u == nil || !u.IsAbs() {
			return fmt.Errorf("URI %v is not absolute", u)
		}
	}
	for _, e := range n.EmailAddresses {
		at := strings.LastIndexByte(e, '@')
		if at < 1 || validDNSName(e[at+1:]) != nil {
			return fmt.Errorf("e-mail address %q is not local@domain", e)
		}
	}
	return nil
}

// validDNSName accepts a host name of letters, digits and hyphens (RFC 1123
// section 2.1), dot-separated labels of 1 to 63 characters, at most 253 in
// all, no trailing dot and no wildcard label.
func validDNSName(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("DNS name %q: empty or longer than 253 characters", name)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "*" || strings.Contains(label, "*") {
			return fmt.Errorf("DNS name %q: wildcards are not allowed", name)
		}
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("DNS name %q: invalid label %q", name, label)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("DNS name %q: invalid character %q", name, c)
			}
		}
	}
	return nil
}

// sanStrings lists the SANs in the string form marshalSANExtension and
// smallstep's CreateSANs read back: DNS names, e-mail addresses, IP
// addresses, URIs.
func (n *CertificateNames) sanStrings() []string {
	var out []string
	out = append(out, n.DNSNames...)
	out = append(out, n.EmailAddresses...)
	for _, ip := range n.IPAddresses {
		out = append(out, ip.String())
	}
	for _, u := range n.URIs {
		out = append(out, u.String())
	}
	return out
}

// String is a readable form for logs and refusal reasons.
func (n *CertificateNames) String() string {
	s := "subject " + n.Subject.String()
	if sans := n.sanStrings(); len(sans) > 0 {
		s += ", subjectAltNames " + strings.Join(sans, " ")
	} else {
		s += ", no subjectAltName"
	}
	return s
}

// Matches reports how cert's names differ from n, or nil when they are
// exactly n: the same subject attributes (RFC 5280 section 7.1 matching,
// simplified to the string form, which includes attributes pkix.Name has
// no field for, since CAs may re-encode strings) and the same set of each
// SAN type.
func (n *CertificateNames) Matches(cert *x509.Certificate) error {
	if got, want := cert.Subject.String(), n.Subject.String(); got != want {
		return fmt.Errorf("subject %q, policy %q", got, want)
	}
	var ips, wantIPs, uris, wantURIs []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	for _, ip := range n.IPAddresses {
		wantIPs = append(wantIPs, ip.String())
	}
	for _, u := range cert.URIs {
		uris = append(uris, u.String())
	}
	for _, u := range n.URIs {
		wantURIs = append(wantURIs, u.String())
	}
	for _, c := range []struct {
		kind      string
		got, want []string
	}{{"DNS names", cert.DNSNames, n.DNSNames}, {"e-mail addresses", cert.EmailAddresses, n.EmailAddresses},
		{"IP addresses", ips, wantIPs}, {"URIs", uris, wantURIs}} {
		if !sameSet(c.got, c.want) {
			return fmt.Errorf("%s %v, policy %v", c.kind, c.got, c.want)
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
