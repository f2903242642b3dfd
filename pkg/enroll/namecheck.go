package enroll

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// checkRequestedNames holds a CSR to the names policy decided. The CA
// issues exactly those names whatever the CSR says; a CSR asking for
// anything else is refused with 403 rather than silently corrected, so
// that a pledge (or an attacker) learns at once that it cannot choose its
// name, and the refusal names what was asked for. The rule:
//
//   - subject: every attribute the CSR's subject carries must be in the
//     policy subject with the same value. An empty subject, or a subset
//     such as just serialNumber (RFC 8995 section 5.9.2), is fine.
//   - subjectAltName (RFC 5280 section 4.2.1.6): every requested name must
//     be one of the policy's, of the same type; requesting none is fine.
//     Name types the policy never issues (otherName, directoryName, ...)
//     are refused.
//
// RFC 7030 section 4.2.1 lets the CA choose the names; csrattrs (section
// 4.5) announces the allowed ones.
func checkRequestedNames(csr *x509.CertificateRequest, names *CertificateNames) error {
	allowed := names.Subject.ToRDNSequence()
	for _, atv := range csr.Subject.Names {
		if !hasAttribute(allowed, atv) {
			return newError(http.StatusForbidden, nil, "CSR subject requests %s, which registrar policy does not give this device (%s)",
				pkix.RDNSequence{{atv}}.String(), names)
		}
	}
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(OIDExtSubjectAltName) {
			continue
		}
		if err := checkRequestedSANs(ext.Value, names); err != nil {
			return err
		}
	}
	return nil
}

func hasAttribute(rdns pkix.RDNSequence, want pkix.AttributeTypeAndValue) bool {
	for _, rdn := range rdns {
		for _, atv := range rdn {
			if atv.Type.Equal(want.Type) && fmt.Sprint(atv.Value) == fmt.Sprint(want.Value) {
				return true
			}
		}
	}
	return false
}

// GeneralName tags (RFC 5280 section 4.2.1.6).
var generalNameTypes = map[int]string{
	0: "otherName", 1: "rfc822Name", 2: "dNSName", 3: "x400Address", 4: "directoryName",
	5: "ediPartyName", 6: "uniformResourceIdentifier", 7: "iPAddress", 8: "registeredID",
}

// checkRequestedSANs walks a requested subjectAltName extension value
// (GeneralNames) and refuses every name not in names.
func checkRequestedSANs(der []byte, names *CertificateNames) error {
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence {
		return newError(http.StatusBadRequest, err, "CSR subjectAltName request malformed")
	}
	for rest := seq.Bytes; len(rest) > 0; {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return newError(http.StatusBadRequest, err, "CSR subjectAltName request malformed")
		}
		if gn.Class != asn1.ClassContextSpecific {
			return newError(http.StatusBadRequest, nil, "CSR subjectAltName request malformed")
		}
		v := string(gn.Bytes)
		ok := false
		switch gn.Tag {
		case 1:
			ok = containsFold(names.EmailAddresses, v, false)
		case 2:
			ok = containsFold(names.DNSNames, v, true)
		case 6:
			for _, u := range names.URIs {
				ok = ok || u.String() == v
			}
		case 7:
			ip := net.IP(gn.Bytes)
			for _, w := range names.IPAddresses {
				ok = ok || w.Equal(ip)
			}
			v = ip.String()
		default:
			typ := generalNameTypes[gn.Tag]
			if typ == "" {
				typ = fmt.Sprintf("[%d]", gn.Tag)
			}
			return newError(http.StatusForbidden, nil, "CSR requests a subjectAltName of type %s; registrar policy gives this device %s", typ, names)
		}
		if !ok {
			return newError(http.StatusForbidden, nil, "CSR requests subjectAltName %s:%s, which registrar policy does not give this device (%s)",
				sanLabel(gn.Tag), v, names)
		}
	}
	return nil
}

func sanLabel(tag int) string {
	return map[int]string{1: "email", 2: "DNS", 6: "URI", 7: "IP"}[tag]
}

// containsFold reports whether list holds v; DNS names compare
// case-insensitively (RFC 4343).
func containsFold(list []string, v string, fold bool) bool {
	for _, s := range list {
		if s == v || fold && strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// checkRequestedUsages refuses key usages a domain certificate never gets:
// an extKeyUsage request other than id-kp-clientAuth (RFC 5280 section
// 4.2.1.12; serverAuth would let a pledge pose as a server, id-kp-cmcRA,
// RFC 6402, as a registrar), and a keyUsage request beyond
// digitalSignature (section 4.2.1.3).
func checkRequestedUsages(csr *x509.CertificateRequest) error {
	for _, ext := range csr.Extensions {
		switch {
		case ext.Id.Equal(OIDExtExtendedKeyUsage):
			var oids []asn1.ObjectIdentifier
			if rest, err := asn1.Unmarshal(ext.Value, &oids); err != nil || len(rest) != 0 {
				return newError(http.StatusBadRequest, err, "CSR extKeyUsage request malformed")
			}
			for _, oid := range oids {
				if !oid.Equal(oidKPClientAuth) {
					return newError(http.StatusForbidden, nil, "CSR requests extended key usage %s; domain certificates carry clientAuth only", ekuName(oid))
				}
			}
		case ext.Id.Equal(OIDExtKeyUsage):
			var bits asn1.BitString
			if rest, err := asn1.Unmarshal(ext.Value, &bits); err != nil || len(rest) != 0 {
				return newError(http.StatusBadRequest, err, "CSR keyUsage request malformed")
			}
			for i := 1; i < bits.BitLength; i++ {
				if bits.At(i) == 1 {
					return newError(http.StatusForbidden, nil, "CSR requests key usage bit %d; domain certificates carry digitalSignature only", i)
				}
			}
		}
	}
	return nil
}

// Extended key usages (RFC 5280 section 4.2.1.12, RFC 6402 section 2.10).
var (
	oidKPServerAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidKPClientAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	oidKPCmcRA      = voucher.OIDCmcRA // RFC 6402 2.10, defined in pkg/voucher
)

func ekuName(oid asn1.ObjectIdentifier) string {
	switch {
	case oid.Equal(oidKPServerAuth):
		return "serverAuth"
	case oid.Equal(oidKPCmcRA):
		return "id-kp-cmcRA (" + oid.String() + ")"
	}
	return oid.String()
}

// checkIssued verifies what a CA returned before anyone sees it: exactly
// the policy's names, extKeyUsage clientAuth alone, keyUsage
// digitalSignature alone, not a CA. A CA whose template drifted (a remote
// step-ca provisioner still copying the CSR's subject, say) is caught
// here; its certificate is not delivered.
func checkIssued(c *x509.Certificate, names *CertificateNames) error {
	if err := names.Matches(c); err != nil {
		return fmt.Errorf("enroll: CA issued names outside policy: %w", err)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || len(c.UnknownExtKeyUsage) != 0 {
		return fmt.Errorf("enroll: CA issued extended key usages %v %v, policy clientAuth only", c.ExtKeyUsage, c.UnknownExtKeyUsage)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		return fmt.Errorf("enroll: CA issued key usage %#x, policy digitalSignature only", c.KeyUsage)
	}
	if c.IsCA || (c.BasicConstraintsValid && c.MaxPathLen > 0) {
		return fmt.Errorf("enroll: CA issued a CA certificate")
	}
	return nil
}
