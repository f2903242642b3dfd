package enroll

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"text/template"
)

// NameKind is the subjectAltName type a NameTemplate produces.
type NameKind int

// The SAN types a registrar may derive from a serial number (RFC 5280
// section 4.2.1.6: dNSName, uniformResourceIdentifier).
const (
	NameDNS NameKind = iota + 1
	NameURI
)

func (k NameKind) String() string {
	switch k {
	case NameDNS:
		return "DNS"
	case NameURI:
		return "URI"
	}
	return fmt.Sprintf("NameKind(%d)", int(k))
}

// NameTemplateData is what a name template sees.
type NameTemplateData struct {
	// SerialNumber is the serial number the registrar verified.
	SerialNumber string
}

// Samples a template is rendered with when parsed: two serials, so that a
// template that ignores the serial (one name for every device) is caught.
var nameTemplateSamples = [2]string{"SAMPLE-0001", "SAMPLE-0002"}

// NameTemplate is an operator's rule deriving a subjectAltName from the
// device's serial number, a Go text/template over NameTemplateData, e.g.
// "{{.SerialNumber}}.devices.example.net" (DNS) or
// "urn:dev:serial:{{.SerialNumber}}" (URI, RFC 9039 device URN; use
// "{{.SerialNumber | urlquery}}" when serials may hold reserved characters).
type NameTemplate struct {
	kind NameKind
	text string
	t    *template.Template
}

// ParseNameTemplate compiles text as a template of kind and checks it: it
// must render, for sample serials, a valid name of that kind (see
// CertificateNames.Validate) that differs from serial to serial.
func ParseNameTemplate(kind NameKind, text string) (*NameTemplate, error) {
	if kind != NameDNS && kind != NameURI {
		return nil, fmt.Errorf("name template: unknown kind %v", kind)
	}
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("name template is empty")
	}
	t, err := template.New(kind.String()).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s name template: %w", kind, err)
	}
	nt := &NameTemplate{kind: kind, text: text, t: t}
	var out [2]string
	for i, serial := range nameTemplateSamples {
		if out[i], err = nt.Render(serial); err != nil {
			return nil, fmt.Errorf("%s name template %q: %w", kind, text, err)
		}
	}
	if out[0] == out[1] {
		return nil, fmt.Errorf("%s name template %q gives every device the same name %q: use {{.SerialNumber}}", kind, text, out[0])
	}
	return nt, nil
}

// Kind is the SAN type the template produces.
func (t *NameTemplate) Kind() NameKind { return t.kind }

// String returns the template text.
func (t *NameTemplate) String() string { return t.text }

// Render evaluates the template for serial and checks the result: a DNS
// name must be a valid host name without wildcards, a URI must be absolute
// and parse to the same string (what is checked is what is issued).
func (t *NameTemplate) Render(serial string) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, NameTemplateData{SerialNumber: serial}); err != nil {
		return "", err
	}
	s := b.String()
	switch t.kind {
	case NameDNS:
		if err := validDNSName(s); err != nil {
			return "", err
		}
	case NameURI:
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("URI %q: %w", s, err)
		}
		if !u.IsAbs() || u.String() != s {
			return "", fmt.Errorf("URI %q is not an absolute URI in canonical form", s)
		}
	}
	return s, nil
}
