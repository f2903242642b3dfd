package enroll

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Object identifiers used in CSR attributes (RFC 7030 section 4.5.2).
var (
	OIDSerialNumber         = asn1.ObjectIdentifier{2, 5, 4, 5}                         // X.520 serialNumber
	OIDChallengePassword    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 7}         // PKCS#9
	OIDExtensionRequest     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}        // PKCS#9
	OIDECPublicKey          = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}             // RFC 5480
	OIDRSAEncryption        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}         // RFC 8017
	OIDEd25519              = asn1.ObjectIdentifier{1, 3, 101, 112}                     // RFC 8410
	OIDCurveP256            = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}          // secp256r1
	OIDCurveP384            = asn1.ObjectIdentifier{1, 3, 132, 0, 34}                   // secp384r1
	OIDCurveP521            = asn1.ObjectIdentifier{1, 3, 132, 0, 35}                   // secp521r1
	OIDECDSAWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}          // RFC 5758
	OIDECDSAWithSHA384      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}          // RFC 5758
	OIDECDSAWithSHA512      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}          // RFC 5758
	OIDSHA256WithRSA        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}        // RFC 4055
	OIDExtSubjectAltName    = asn1.ObjectIdentifier{2, 5, 29, 17}                       // RFC 5280 4.2.1.6
	OIDExtKeyUsage          = asn1.ObjectIdentifier{2, 5, 29, 15}                       // RFC 5280 4.2.1.3
	OIDExtExtendedKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 37}                       // RFC 5280 4.2.1.12
	OIDExtBasicConstraints  = asn1.ObjectIdentifier{2, 5, 29, 19}                       // RFC 5280 4.2.1.9
	OIDExtSubjectKeyID      = asn1.ObjectIdentifier{2, 5, 29, 14}                       // RFC 5280 4.2.1.2
	OIDChangeSubjectName    = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 7, 36}         // RFC 6402 id-cmc-changeSubjectName
	OIDDecryptKeyIdentifier = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 37} // RFC 7030 4.4.1.1
	OIDAsymmDecryptKeyID    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 54} // RFC 7030 4.4.1.2
)

// CSRAttr is one element of a CSR attributes response (RFC 7030 section
// 4.5.2): either a bare OID (Values empty: "include this", e.g. a subject
// attribute type, an extension type, or a signature algorithm) or an
// Attribute whose values constrain the request (e.g. id-ecPublicKey with the
// curve to use, or extensionRequest with the extensions to include).
type CSRAttr struct {
	OID    asn1.ObjectIdentifier
	Values []asn1.RawValue // DER of each AttributeValue; empty for a bare OID
}

// attribute is Attribute ::= SEQUENCE { type OID, values SET OF ANY }.
type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

// MarshalCSRAttrs encodes attrs as CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF
// AttrOrOID (RFC 7030 section 4.5.2).
func MarshalCSRAttrs(attrs []CSRAttr) ([]byte, error) {
	elems := make([]asn1.RawValue, 0, len(attrs))
	for _, a := range attrs {
		var der []byte
		var err error
		if len(a.Values) == 0 {
			der, err = asn1.Marshal(a.OID)
		} else {
			der, err = asn1.Marshal(attribute{Type: a.OID, Values: a.Values})
		}
		if err != nil {
			return nil, fmt.Errorf("csrattrs: %w", err)
		}
		elems = append(elems, asn1.RawValue{FullBytes: der})
	}
	return asn1.Marshal(elems)
}

// ParseCSRAttrs decodes a CSR attributes body (base64, PEM or DER, see
// DecodeBody). An empty body (the 204 case) yields no attributes.
func ParseCSRAttrs(body []byte) ([]CSRAttr, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	der, err := DecodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("csrattrs: %w", err)
	}
	var elems []asn1.RawValue
	rest, err := asn1.Unmarshal(der, &elems)
	if err != nil {
		return nil, fmt.Errorf("csrattrs: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("csrattrs: trailing data")
	}
	out := make([]CSRAttr, 0, len(elems))
	for _, e := range elems {
		switch {
		case e.Class == asn1.ClassUniversal && e.Tag == asn1.TagOID:
			var oid asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(e.FullBytes, &oid); err != nil {
				return nil, fmt.Errorf("csrattrs: %w", err)
			}
			out = append(out, CSRAttr{OID: oid})
		case e.Class == asn1.ClassUniversal && e.Tag == asn1.TagSequence:
			var a attribute
			if rest, err := asn1.Unmarshal(e.FullBytes, &a); err != nil || len(rest) != 0 {
				return nil, fmt.Errorf("csrattrs: malformed Attribute")
			}
			if len(a.Values) == 0 {
				return nil, errors.New("csrattrs: Attribute without values")
			}
			out = append(out, CSRAttr{OID: a.Type, Values: a.Values})
		default:
			return nil, fmt.Errorf("csrattrs: unexpected element tag %d", e.Tag)
		}
	}
	return out, nil
}

// rawOf returns the DER of v as an asn1.RawValue.
func rawOf(v any) (asn1.RawValue, error) {
	der, err := asn1.Marshal(v)
	if err != nil {
		return asn1.RawValue{}, err
	}
	return asn1.RawValue{FullBytes: der}, nil
}

// marshalSANExtension encodes names (DNS names, IP addresses, e-mail
// addresses containing '@', URIs containing ':') as a subjectAltName
// extension (RFC 5280 section 4.2.1.6).
func marshalSANExtension(names []string) (pkix.Extension, error) {
	var raw []asn1.RawValue
	for _, n := range names {
		switch {
		case net.ParseIP(n) != nil:
			ip := net.ParseIP(n)
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			raw = append(raw, asn1.RawValue{Tag: 7, Class: asn1.ClassContextSpecific, Bytes: ip})
		case strings.Contains(n, "@") && !strings.Contains(n, ":"):
			raw = append(raw, asn1.RawValue{Tag: 1, Class: asn1.ClassContextSpecific, Bytes: []byte(n)})
		case strings.Contains(n, ":"):
			if _, err := url.Parse(n); err != nil {
				return pkix.Extension{}, fmt.Errorf("SAN %q: %w", n, err)
			}
			raw = append(raw, asn1.RawValue{Tag: 6, Class: asn1.ClassContextSpecific, Bytes: []byte(n)})
		default:
			raw = append(raw, asn1.RawValue{Tag: 2, Class: asn1.ClassContextSpecific, Bytes: []byte(n)})
		}
	}
	der, err := asn1.Marshal(raw)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDExtSubjectAltName, Value: der}, nil
}

// CSRAttrs returns the CSR attributes this policy asks pledges to follow
// (RFC 7030 section 4.5.2, RFC 8995 section 5.9.2), without names; see
// attrsFor.
func (p *CSRPolicy) CSRAttrs() ([]CSRAttr, error) { return p.attrsFor(nil) }

// attrsFor returns the CSR attributes for a client whose certificate will
// carry names (nil when unknown, e.g. an unauthenticated client), in this
// order:
//
//   - challengePassword, when channel binding is required (RFC 7030 3.5);
//   - serialNumber, when the subject must or may carry the serial number
//     (the only subject attribute the default name policy issues);
//   - the preferred key type: Attribute{id-ecPublicKey, {curve}} for EC
//     keys, the bare algorithm OID otherwise;
//   - the matching signature algorithm;
//   - Attribute{extensionRequest, {Extensions}} with a subjectAltName
//     extension holding the SANs of names, when there are any: the only
//     SANs a CSR may request (checkRequestedNames);
//   - the bare OIDs of RequestedExtensions.
func (p *CSRPolicy) attrsFor(names *CertificateNames) ([]CSRAttr, error) {
	var attrs []CSRAttr
	if p.RequireChannelBinding {
		attrs = append(attrs, CSRAttr{OID: OIDChallengePassword})
	}
	if p.RequireSerialNumber || names != nil && names.Subject.SerialNumber != "" {
		attrs = append(attrs, CSRAttr{OID: OIDSerialNumber})
	}
	kts := p.keyTypes()
	if len(kts) > 0 {
		kt := kts[0]
		info, ok := keyTypeInfo[kt]
		if !ok {
			return nil, fmt.Errorf("csrattrs: unknown key type %q", kt)
		}
		if info.curve != nil {
			v, err := rawOf(info.curve)
			if err != nil {
				return nil, err
			}
			attrs = append(attrs, CSRAttr{OID: OIDECPublicKey, Values: []asn1.RawValue{v}})
		} else {
			attrs = append(attrs, CSRAttr{OID: info.alg})
		}
		if info.sig != nil {
			attrs = append(attrs, CSRAttr{OID: info.sig})
		}
	}
	if names != nil {
		if sans := names.sanStrings(); len(sans) > 0 {
			ext, err := marshalSANExtension(sans)
			if err != nil {
				return nil, fmt.Errorf("csrattrs: %w", err)
			}
			v, err := rawOf([]pkix.Extension{ext})
			if err != nil {
				return nil, err
			}
			attrs = append(attrs, CSRAttr{OID: OIDExtensionRequest, Values: []asn1.RawValue{v}})
		}
	}
	for _, oid := range p.RequestedExtensions {
		attrs = append(attrs, CSRAttr{OID: oid})
	}
	return attrs, nil
}

// csrAttributes returns the attributes of csr's
// CertificationRequestInfo, parsed from the raw TBS because crypto/x509 does
// not expose non-extension attributes.
func csrAttributes(csr *x509.CertificateRequest) ([]attribute, error) {
	var tbs struct {
		Raw        asn1.RawContent
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes []asn1.RawValue `asn1:"tag:0"`
	}
	if _, err := asn1.Unmarshal(csr.RawTBSCertificateRequest, &tbs); err != nil {
		return nil, err
	}
	out := make([]attribute, 0, len(tbs.Attributes))
	for _, raw := range tbs.Attributes {
		var a attribute
		if _, err := asn1.Unmarshal(raw.FullBytes, &a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// csrHasAttribute reports whether csr carries an attribute of type oid.
func csrHasAttribute(csr *x509.CertificateRequest, oid asn1.ObjectIdentifier) (bool, error) {
	attrs, err := csrAttributes(csr)
	if err != nil {
		return false, err
	}
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			return true, nil
		}
	}
	return false, nil
}

// csrChallengePassword returns the challengePassword attribute of csr
// (PKCS#9 section 5.4.1, a DirectoryString).
func csrChallengePassword(csr *x509.CertificateRequest) (string, bool, error) {
	attrs, err := csrAttributes(csr)
	if err != nil {
		return "", false, err
	}
	for _, a := range attrs {
		if !a.Type.Equal(OIDChallengePassword) {
			continue
		}
		if len(a.Values) != 1 {
			return "", false, errors.New("challengePassword must have one value")
		}
		v := a.Values[0]
		switch v.Tag {
		case asn1.TagPrintableString, asn1.TagUTF8String, asn1.TagIA5String, asn1.TagT61String:
			return string(v.Bytes), true, nil
		default:
			return "", false, fmt.Errorf("challengePassword: unsupported string tag %d", v.Tag)
		}
	}
	return "", false, nil
}

// serveCSRAttrs answers GET /csrattrs (RFC 7030 section 4.5) and its
// /csrattributes alias: the attributes from WithCSRAttrsFunc, or those of
// the CSRPolicy with the SANs the NamePolicy gives an authenticated
// client, or 204/404 when there are none (section 4.5.2). A client the
// NamePolicy refuses still gets the policy's attributes; its enrollment
// gets the refusal.
func (s *Server) serveCSRAttrs(w http.ResponseWriter, r *http.Request) {
	l, err := label(r)
	if err != nil {
		s.fail(w, r, OpCSRAttrs, err)
		return
	}
	peer := PeerFromRequest(r)
	if s.requireAuthGet && len(peer.Chain) == 0 {
		s.fail(w, r, OpCSRAttrs, errUnauthenticated)
		return
	}
	var attrs []CSRAttr
	if s.csrAttrsFunc != nil {
		attrs, err = s.csrAttrsFunc(r.Context(), l, peer)
	} else {
		attrs, err = s.csrPolicy.attrsFor(s.announcedNames(r.Context(), l, peer))
	}
	if err != nil {
		s.fail(w, r, OpCSRAttrs, err)
		return
	}
	if len(attrs) == 0 {
		w.WriteHeader(s.emptyAttrs)
		return
	}
	der, err := MarshalCSRAttrs(attrs)
	if err != nil {
		s.fail(w, r, OpCSRAttrs, err)
		return
	}
	s.writeDER(w, r, MediaTypeCSRAttrs, der)
}

// announcedNames are the names an authenticated client's certificate would
// carry, for csrattrs to announce; nil when the client is unauthenticated
// or the NamePolicy refuses it.
func (s *Server) announcedNames(ctx context.Context, label string, peer Peer) *CertificateNames {
	if len(peer.Chain) == 0 {
		return nil
	}
	names, err := s.certificateNames(ctx, &AuthzRequest{Operation: OpCSRAttrs, Label: label, Peer: peer})
	if err != nil {
		s.log.DebugContext(ctx, "csrattrs without names", "err", err)
		return nil
	}
	return names
}
