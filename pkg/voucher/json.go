package voucher

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"time"
)

// This file is the YANG-JSON encoding (RFC 7951) of the two containers.
// Output follows the member order of the RFC 8995 and rfc8366bis examples,
// so that what Landfall emits reads like them; input is strict: one
// top-level member of the right name, no duplicate or unknown leaf, every
// leaf of its YANG type.

// leaf names, in the order they are emitted.
const (
	leafAssertion                  = "assertion"
	leafCreatedOn                  = "created-on"
	leafExpiresOn                  = "expires-on"
	leafSerialNumber               = "serial-number"
	leafIDevIDIssuer               = "idevid-issuer"
	leafNonce                      = "nonce"
	leafPinnedDomainCert           = "pinned-domain-cert"
	leafPinnedDomainPubk           = "pinned-domain-pubk"
	leafPinnedDomainPubkSHA256     = "pinned-domain-pubk-sha256"
	leafDomainCertRevocationChecks = "domain-cert-revocation-checks"
	leafLastRenewalDate            = "last-renewal-date"
	leafPriorSignedVoucherRequest  = "prior-signed-voucher-request"
	leafProximityRegistrarCert     = "proximity-registrar-cert"
	leafProximityRegistrarPubk     = "proximity-registrar-pubk"
	leafProximityRegistrarSHA256   = "proximity-registrar-pubk-sha256"

	// rfc8366bis
	leafESTDomain                  = "est-domain"
	leafAdditionalConfigurationURL = "additional-configuration-url"
	leafManufacturerProprietary    = "manufacturer-proprietary"
	leafExtensions                 = "extensions"
	extensionMemberPrefix          = "extension:" // + an extension's name: its sub-map

	// BRSKI-PRM, requests only
	leafAgentProvidedProximityRegistrarCert = "agent-provided-proximity-registrar-cert"
	leafAgentSignCert                       = "agent-sign-cert"
	leafAgentSignedData                     = "agent-signed-data"
)

// MarshalJSON encodes v as {"ietf-voucher:voucher":{...}}.
func (v *Voucher) MarshalJSON() ([]byte, error) {
	var w objectWriter
	v.Artifact.writeLeaves(&w)
	v.Artifact.writeExtensions(&w)
	return w.wrap(voucherMember), nil
}

// MarshalJSON encodes r as {"ietf-voucher-request:voucher":{...}}.
func (r *VoucherRequest) MarshalJSON() ([]byte, error) {
	var w objectWriter
	r.Artifact.writeLeaves(&w)
	w.binary(leafPriorSignedVoucherRequest, r.PriorSignedVoucherRequest)
	w.binary(leafProximityRegistrarCert, r.ProximityRegistrarCert)
	w.binary(leafProximityRegistrarPubk, r.ProximityRegistrarPubk)
	w.binary(leafProximityRegistrarSHA256, r.ProximityRegistrarPubkSHA256)
	w.binary(leafAgentProvidedProximityRegistrarCert, r.AgentProvidedProximityRegistrarCert)
	w.binary(leafAgentSignCert, r.AgentSignCert)
	w.binary(leafAgentSignedData, r.AgentSignedData)
	r.Artifact.writeExtensions(&w)
	return w.wrap(voucherRequestMember), nil
}

// UnmarshalJSON is ParseVoucherJSON without the role validation.
func (v *Voucher) UnmarshalJSON(data []byte) error {
	p, err := decodeVoucher(data)
	if err != nil {
		return err
	}
	*v = *p
	return nil
}

// UnmarshalJSON is ParseVoucherRequestJSON.
func (r *VoucherRequest) UnmarshalJSON(data []byte) error {
	p, err := ParseVoucherRequestJSON(data)
	if err != nil {
		return err
	}
	*r = *p
	return nil
}

// ParseVoucherJSON decodes an ietf-voucher:voucher document and validates it
// as a voucher (Voucher.Validate).
func ParseVoucherJSON(data []byte) (*Voucher, error) {
	v, err := decodeVoucher(data)
	if err != nil {
		return nil, err
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

func decodeVoucher(data []byte) (*Voucher, error) {
	inner, err := container(data, voucherMember)
	if err != nil {
		return nil, err
	}
	v := new(Voucher)
	err = decodeLeaves(inner, func(name string, raw json.RawMessage) (bool, error) {
		return v.Artifact.decodeLeaf(name, raw)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// ParseVoucherRequestJSON decodes an ietf-voucher-request:voucher document.
// Which leaves it must hold depends on who sent it: validate it with
// ValidatePledgeRequest or ValidateRegistrarRequest. The voucher-only
// leaves pinned-domain-cert, pinned-domain-pubk, pinned-domain-pubk-sha256
// and domain-cert-revocation-checks are ignored (RFC 8995 3.4), and so is
// last-renewal-date (rfc8366bis refines it so: "any occurrence MUST be
// ignored"): the result never holds them.
func ParseVoucherRequestJSON(data []byte) (*VoucherRequest, error) {
	inner, err := container(data, voucherRequestMember)
	if err != nil {
		return nil, err
	}
	r := new(VoucherRequest)
	err = decodeLeaves(inner, func(name string, raw json.RawMessage) (bool, error) {
		var dst *[]byte
		switch name {
		case leafPriorSignedVoucherRequest:
			dst = &r.PriorSignedVoucherRequest
		case leafProximityRegistrarCert:
			dst = &r.ProximityRegistrarCert
		case leafProximityRegistrarPubk:
			dst = &r.ProximityRegistrarPubk
		case leafProximityRegistrarSHA256:
			dst = &r.ProximityRegistrarPubkSHA256
		case leafAgentProvidedProximityRegistrarCert:
			dst = &r.AgentProvidedProximityRegistrarCert
		case leafAgentSignCert:
			dst = &r.AgentSignCert
		case leafAgentSignedData:
			dst = &r.AgentSignedData
		case leafPinnedDomainCert, leafPinnedDomainPubk, leafPinnedDomainPubkSHA256, leafDomainCertRevocationChecks, leafLastRenewalDate:
			// Voucher-only leaves: RFC 8995 3.4, "any occurrence MUST be
			// ignored". They are dropped unread, so that nothing
			// downstream (the MASA's pin, its revocation setting) can
			// take them from the request.
			return true, nil
		default:
			return r.Artifact.decodeLeaf(name, raw)
		}
		b, err := decodeBinary(name, raw)
		*dst = b
		return true, err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (a *Artifact) writeLeaves(w *objectWriter) {
	if a.Assertion != "" {
		w.str(leafAssertion, string(a.Assertion))
	}
	w.dateTime(leafCreatedOn, a.CreatedOn)
	w.dateTime(leafExpiresOn, a.ExpiresOn)
	if a.SerialNumber != "" {
		w.str(leafSerialNumber, a.SerialNumber)
	}
	w.binary(leafIDevIDIssuer, a.IDevIDIssuer)
	if a.Nonce != "" {
		w.str(leafNonce, a.Nonce)
	}
	w.binary(leafPinnedDomainCert, a.PinnedDomainCert)
	w.binary(leafPinnedDomainPubk, a.PinnedDomainPubk)
	w.binary(leafPinnedDomainPubkSHA256, a.PinnedDomainPubkSHA256)
	if a.DomainCertRevocationChecks != nil {
		w.member(leafDomainCertRevocationChecks)
		if *a.DomainCertRevocationChecks {
			w.buf.WriteString("true")
		} else {
			w.buf.WriteString("false")
		}
	}
	w.dateTime(leafLastRenewalDate, a.LastRenewalDate)
	if a.ESTDomain != "" {
		w.str(leafESTDomain, a.ESTDomain)
	}
	if a.AdditionalConfigurationURL != "" {
		w.str(leafAdditionalConfigurationURL, a.AdditionalConfigurationURL)
	}
	if len(a.ManufacturerProprietary) > 0 {
		// The leaf is binary, but rfc8366bis's YANG description says that
		// in JSON it "is base64URL encoded": so it is written (unpadded,
		// RFC 4648 section 5) and read in either alphabet.
		w.str(leafManufacturerProprietary, base64.RawURLEncoding.EncodeToString(a.ManufacturerProprietary))
	}
}

// writeExtensions writes the extensions leaf-list and then each
// extension's sub-map, in the order of the list, as rfc8366bis's example
// does.
func (a *Artifact) writeExtensions(w *objectWriter) {
	if len(a.Extensions) == 0 {
		return
	}
	w.member(leafExtensions)
	w.buf.WriteByte('[')
	for i, name := range a.Extensions {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		writeJSONString(&w.buf, name)
	}
	w.buf.WriteByte(']')
	for _, name := range a.Extensions {
		if raw, ok := a.ExtensionData[name]; ok {
			w.member(extensionMemberPrefix + name)
			w.buf.Write(raw)
		}
	}
}

// decodeLeaf decodes one leaf of the shared grouping. It reports false for
// a name the grouping does not define.
func (a *Artifact) decodeLeaf(name string, raw json.RawMessage) (bool, error) {
	var err error
	switch name {
	case leafAssertion:
		var s string
		if s, err = decodeString(name, raw); err == nil {
			a.Assertion = Assertion(s)
			if !a.Assertion.Known() {
				err = fail(ErrUnknownAssertion, "%q", s)
			}
		}
	case leafCreatedOn:
		a.CreatedOn, err = decodeDateTime(name, raw)
	case leafExpiresOn:
		a.ExpiresOn, err = decodeDateTime(name, raw)
	case leafLastRenewalDate:
		a.LastRenewalDate, err = decodeDateTime(name, raw)
	case leafSerialNumber:
		a.SerialNumber, err = decodeString(name, raw)
	case leafNonce:
		a.Nonce, err = decodeString(name, raw)
	case leafIDevIDIssuer:
		a.IDevIDIssuer, err = decodeBinary(name, raw)
	case leafPinnedDomainCert:
		a.PinnedDomainCert, err = decodeBinary(name, raw)
	case leafPinnedDomainPubk:
		a.PinnedDomainPubk, err = decodeBinary(name, raw)
	case leafPinnedDomainPubkSHA256:
		a.PinnedDomainPubkSHA256, err = decodeBinary(name, raw)
	case leafDomainCertRevocationChecks:
		var b bool
		if err = json.Unmarshal(raw, &b); err != nil || bytes.Equal(raw, []byte("null")) {
			return true, fail(ErrMalformed, "%s is not a boolean", name)
		}
		a.DomainCertRevocationChecks = &b
	case leafESTDomain:
		a.ESTDomain, err = decodeURI(name, raw)
	case leafAdditionalConfigurationURL:
		a.AdditionalConfigurationURL, err = decodeURI(name, raw)
	case leafManufacturerProprietary:
		a.ManufacturerProprietary, err = decodeBinaryAnyAlphabet(name, raw)
	case leafExtensions:
		a.Extensions, err = decodeExtensionNames(raw)
	default:
		ext, ok := strings.CutPrefix(name, extensionMemberPrefix)
		if !ok {
			return false, nil
		}
		if ext == "" || !json.Valid(raw) || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			return true, fail(ErrMalformed, "%s is not an extension's sub-map (a JSON object)", name)
		}
		if a.ExtensionData == nil {
			a.ExtensionData = make(map[string]json.RawMessage)
		}
		a.ExtensionData[ext] = append(json.RawMessage(nil), bytes.TrimSpace(raw)...)
	}
	return true, err
}

// decodeExtensionNames decodes the extensions leaf-list. In JSON its
// entries are the extension modules' names (rfc8366bis: the union's uint64
// arm is for CBOR with SIDs); each may appear once (RFC 7950 7.7: a
// leaf-list of config data holds unique values).
func decodeExtensionNames(raw json.RawMessage) ([]string, error) {
	var names []*string
	if err := json.Unmarshal(raw, &names); err != nil || names == nil {
		return nil, fail(ErrMalformed, "%s is not a list of names", leafExtensions)
	}
	out := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		switch {
		case n == nil || *n == "":
			return nil, fail(ErrMalformed, "%s holds an empty or null name", leafExtensions)
		case seen[*n]:
			return nil, fail(ErrMalformed, "%s lists %q twice", leafExtensions, *n)
		}
		seen[*n] = true
		out = append(out, *n)
	}
	return out, nil
}

// decodeURI decodes an inet:uri leaf (RFC 9911, RFC 3986 section 3): an
// absolute URI, with a scheme.
func decodeURI(name string, raw json.RawMessage) (string, error) {
	s, err := decodeString(name, raw)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Path == "") {
		return "", fail(ErrMalformed, "%s %q is not an absolute URI", name, s)
	}
	return s, nil
}

// container returns the value of the single top-level member name.
func container(data []byte, name string) (json.RawMessage, error) {
	var (
		inner json.RawMessage
		found bool
	)
	err := decodeLeaves(data, func(member string, raw json.RawMessage) (bool, error) {
		if member != name {
			return false, nil
		}
		inner, found = raw, true
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fail(ErrMissingLeaf, "no %q container", name)
	}
	return inner, nil
}

// decodeLeaves walks the members of one JSON object, handing each to leaf.
// A member leaf does not know is ErrUnknownLeaf; a repeated member is
// ErrMalformed (RFC 7951 section 4 allows each leaf once).
func decodeLeaves(data []byte, leaf func(name string, raw json.RawMessage) (bool, error)) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return failWrap(ErrMalformed, err, "not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fail(ErrMalformed, "not a JSON object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return failWrap(ErrMalformed, err, "bad JSON")
		}
		name, _ := tok.(string)
		if seen[name] {
			return fail(ErrMalformed, "member %q repeated", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return failWrap(ErrMalformed, err, "bad JSON value of %q", name)
		}
		known, err := leaf(name, raw)
		if err != nil {
			return err
		}
		if !known {
			return fail(ErrUnknownLeaf, "%q", name)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return failWrap(ErrMalformed, err, "bad JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(ErrMalformed, "data after the JSON object")
	}
	return nil
}

func decodeString(name string, raw json.RawMessage) (string, error) {
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil || s == nil {
		return "", fail(ErrMalformed, "%s is not a string", name)
	}
	return *s, nil
}

// decodeBinary decodes a YANG binary leaf: base64 (RFC 7951 section 6.6),
// padded as RFC 4648 section 4 says; unpadded input is tolerated, and so
// are non-zero pad bits (RFC 4648 3.5 lets a decoder accept them): RFC
// 8995's own examples write "base64encodedvalue==", whose last character
// carries some.
func decodeBinary(name string, raw json.RawMessage) ([]byte, error) {
	s, err := decodeString(name, raw)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, failWrap(ErrMalformed, err, "%s is not base64", name)
	}
	if len(b) == 0 {
		return nil, fail(ErrMalformed, "%s is empty", name)
	}
	return b, nil
}

// decodeBinaryAnyAlphabet decodes a binary leaf written in base64 or
// base64url, padded or not (manufacturer-proprietary: see writeLeaves).
func decodeBinaryAnyAlphabet(name string, raw json.RawMessage) ([]byte, error) {
	s, err := decodeString(name, raw)
	if err != nil {
		return nil, err
	}
	b, ok := base64AnyAlphabet(s)
	if !ok {
		return nil, fail(ErrMalformed, "%s is neither base64 nor base64url", name)
	}
	if len(b) == 0 {
		return nil, fail(ErrMalformed, "%s is empty", name)
	}
	return b, nil
}

func base64AnyAlphabet(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// decodeDateTime decodes a yang:date-and-time (RFC 6991), an RFC 3339
// timestamp keeping its offset.
func decodeDateTime(name string, raw json.RawMessage) (time.Time, error) {
	s, err := decodeString(name, raw)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, failWrap(ErrMalformed, err, "%s is not a date-and-time", name)
	}
	return t, nil
}

// formatDateTime writes millisecond timestamps with three digits, as the
// RFC examples do, and anything finer in full.
func formatDateTime(t time.Time) string {
	if ns := t.Nanosecond(); ns != 0 && ns%int(time.Millisecond) == 0 {
		return t.Format("2006-01-02T15:04:05.000Z07:00")
	}
	return t.Format(time.RFC3339Nano)
}

// objectWriter writes the members of one JSON object in call order.
type objectWriter struct {
	buf bytes.Buffer
}

func (w *objectWriter) member(name string) {
	if w.buf.Len() > 0 {
		w.buf.WriteByte(',')
	}
	writeJSONString(&w.buf, name)
	w.buf.WriteByte(':')
}

func (w *objectWriter) str(name, value string) {
	w.member(name)
	writeJSONString(&w.buf, value)
}

func (w *objectWriter) binary(name string, value []byte) {
	if len(value) == 0 {
		return
	}
	w.str(name, base64.StdEncoding.EncodeToString(value))
}

func (w *objectWriter) dateTime(name string, t time.Time) {
	if t.IsZero() {
		return
	}
	w.str(name, formatDateTime(t))
}

// wrap returns {"<name>":{<members>}}.
func (w *objectWriter) wrap(name string) []byte {
	var out bytes.Buffer
	out.Grow(w.buf.Len() + len(name) + 8)
	out.WriteByte('{')
	writeJSONString(&out, name)
	out.WriteString(":{")
	out.Write(w.buf.Bytes())
	out.WriteString("}}")
	return out.Bytes()
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // a string always encodes
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}
