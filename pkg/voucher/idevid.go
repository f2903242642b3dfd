package voucher

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// This file reads what BRSKI needs from an IDevID certificate
// (IEEE 802.1AR): the serial number (RFC 8995 section 2.3.1), the MASA URL
// (section 2.3.2); idevid_issuer.go derives the idevid-issuer leaf.

var (
	// OIDMASAURL is id-pe-masa-url (RFC 8995 section 2.3.2).
	OIDMASAURL = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 32}
	// OIDHardwareModuleName is id-on-hardwareModuleName (RFC 4108 section
	// 5), an otherName of subjectAltName.
	OIDHardwareModuleName = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 4}
	// OIDCmcRA is id-kp-cmcRA (RFC 6402), which RFC 8995 5.5 has the MASA
	// look for on the registrar's signing certificate.
	OIDCmcRA = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 28}

	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// SerialSource extracts a device serial number from an IDevID.
type SerialSource func(idevid *x509.Certificate) (string, error)

// SerialFromX520 is the default SerialSource: the X520SerialNumber
// attribute of the subject (RFC 8995 section 2.3.1).
func SerialFromX520(idevid *x509.Certificate) (string, error) {
	if idevid.Subject.SerialNumber == "" {
		return "", fail(ErrMissingLeaf, "IDevID subject has no serialNumber")
	}
	return idevid.Subject.SerialNumber, nil
}

// SerialFromHardwareModuleName takes the hwSerialNum of a
// HardwareModuleName otherName in subjectAltName (RFC 4108 section 5),
// which RFC 8995 2.3.1 allows manufacturers to use instead.
func SerialFromHardwareModuleName(idevid *x509.Certificate) (string, error) {
	for _, ext := range idevid.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 {
			return "", fail(ErrMalformed, "IDevID subjectAltName")
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 0 {
				continue // otherName is [0]
			}
			var on struct {
				TypeID asn1.ObjectIdentifier
				Value  asn1.RawValue `asn1:"explicit,tag:0"`
			}
			if _, err := asn1.UnmarshalWithParams(n.FullBytes, &on, "tag:0"); err != nil || !on.TypeID.Equal(OIDHardwareModuleName) {
				continue
			}
			var hmn struct {
				HwType      asn1.ObjectIdentifier
				HwSerialNum []byte
			}
			if _, err := asn1.Unmarshal(on.Value.Bytes, &hmn); err != nil {
				return "", fail(ErrMalformed, "IDevID HardwareModuleName")
			}
			return string(hmn.HwSerialNum), nil
		}
	}
	return "", fail(ErrMissingLeaf, "IDevID has no HardwareModuleName")
}

// SerialFromCommonName takes the subject commonName, for manufacturers
// that put the serial number there.
func SerialFromCommonName(idevid *x509.Certificate) (string, error) {
	if idevid.Subject.CommonName == "" {
		return "", fail(ErrMissingLeaf, "IDevID subject has no commonName")
	}
	return idevid.Subject.CommonName, nil
}

// MASAURL returns the value of the MASA URL extension (RFC 8995 2.3.2), as
// written: a URI or, as in the RFC's examples, a bare authority.
func MASAURL(idevid *x509.Certificate) (string, error) {
	for _, ext := range idevid.Extensions {
		if !ext.Id.Equal(OIDMASAURL) {
			continue
		}
		var s string
		rest, err := asn1.UnmarshalWithParams(ext.Value, &s, "ia5")
		if err != nil || len(rest) > 0 || s == "" {
			return "", fail(ErrMalformed, "MASA URL extension is not an IA5String")
		}
		return s, nil
	}
	return "", fail(ErrMissingLeaf, "IDevID has no MASA URL extension")
}

// MASABaseURI returns the MASA URL as an https URI. The RFC 8995 examples
// carry only an authority ("highway-test.example.com:9443"); BRSKI runs
// over HTTPS, so such a value gets the https scheme.
func MASABaseURI(idevid *x509.Certificate) (string, error) {
	u, err := MASAURL(idevid)
	if err != nil {
		return "", err
	}
	if !strings.Contains(u, "://") {
		u = "https://" + u
	}
	return strings.TrimSuffix(u, "/"), nil
}

// MASAURLExtension encodes url as the MASA URL extension, for minting
// IDevIDs.
func MASAURLExtension(url string) (pkix.Extension, error) {
	v, err := asn1.MarshalWithParams(url, "ia5")
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("voucher: MASA URL %q is not IA5: %w", url, err)
	}
	return pkix.Extension{Id: OIDMASAURL, Value: v}, nil
}

// hasCmcRA reports whether cert carries the id-kp-cmcRA extended key usage.
func hasCmcRA(cert *x509.Certificate) bool {
	for _, oid := range cert.UnknownExtKeyUsage {
		if oid.Equal(OIDCmcRA) {
			return true
		}
	}
	return false
}
