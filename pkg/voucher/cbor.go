package voucher

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"
)

// This file is the CBOR encoding of the two containers
// (draft-ietf-anima-rfc8366bis section 8, RFC 9254): the top-level member is
// keyed by the container's SID (2451 for ietf-voucher:voucher, 2501 for
// ietf-voucher-request:voucher) and every leaf by its SID minus the
// container's (delta encoding, RFC 9254 3.2). The SIDs are those of
// ietf-voucher@2025-12-18.sid and ietf-voucher-request@2025-12-18.sid in
// the rfc8366bis repository. Binary leaves are byte strings, the
// assertion an integer (0 verified, 1 logged, 2 proximity, 3
// agent-proximity), date-and-time and uri text strings.
//
// On input, as draft-ietf-anima-constrained-voucher 8.4 requires, names may
// stand for SIDs anywhere ("ietf-voucher:voucher", "assertion", ...), mixed
// with them. Decoding transcodes to YANG-JSON and hands it to the strict
// JSON parser, so both encodings obey the same leaf rules.

// SIDs of the two containers.
const (
	SIDVoucher        = 2451
	SIDVoucherRequest = 2501
)

type leafKind int

const (
	kindString leafKind = iota // string, date-and-time, uri
	kindBinary
	kindNonce // binary on the wire, the opaque string of Artifact.Nonce here
	kindBool
	kindAssertion
	kindBinaryAny  // binary that JSON may write in base64url (manufacturer-proprietary)
	kindExtensions // the extensions leaf-list
)

type sidLeaf struct {
	name string
	kind leafKind
}

// voucherSIDs and requestSIDs map delta to leaf.
var voucherSIDs = map[uint64]sidLeaf{
	1:  {leafAssertion, kindAssertion},
	2:  {leafCreatedOn, kindString},
	3:  {leafDomainCertRevocationChecks, kindBool},
	4:  {leafExpiresOn, kindString},
	5:  {leafIDevIDIssuer, kindBinary},
	6:  {leafLastRenewalDate, kindString},
	7:  {leafNonce, kindNonce},
	8:  {leafPinnedDomainCert, kindBinary},
	9:  {leafPinnedDomainPubk, kindBinary},
	10: {leafPinnedDomainPubkSHA256, kindBinary},
	11: {leafSerialNumber, kindString},
	12: {leafAdditionalConfigurationURL, kindString},
	13: {leafESTDomain, kindString},
	14: {leafManufacturerProprietary, kindBinaryAny},
	15: {leafExtensions, kindExtensions},
}

var requestSIDs = map[uint64]sidLeaf{
	1:  {leafAssertion, kindAssertion},
	2:  {leafCreatedOn, kindString},
	3:  {leafDomainCertRevocationChecks, kindBool},
	4:  {leafExpiresOn, kindString},
	5:  {leafIDevIDIssuer, kindBinary},
	6:  {leafLastRenewalDate, kindString},
	7:  {leafNonce, kindNonce},
	8:  {leafPinnedDomainCert, kindBinary},
	9:  {leafPriorSignedVoucherRequest, kindBinary},
	10: {leafProximityRegistrarCert, kindBinary},
	11: {leafProximityRegistrarSHA256, kindBinary},
	12: {leafProximityRegistrarPubk, kindBinary},
	13: {leafSerialNumber, kindString},
	14: {leafAgentProvidedProximityRegistrarCert, kindBinary},
	15: {leafAgentSignCert, kindBinary},
	16: {leafAgentSignedData, kindBinary},
	17: {leafPinnedDomainPubk, kindBinary},
	18: {leafPinnedDomainPubkSHA256, kindBinary},
	19: {leafAdditionalConfigurationURL, kindString},
	20: {leafESTDomain, kindString},
	21: {leafExtensions, kindExtensions},
	22: {leafManufacturerProprietary, kindBinaryAny},
}

var assertionCodes = []Assertion{AssertionVerified, AssertionLogged, AssertionProximity, AssertionAgentProximity}

// cborDec reads untrusted CBOR: no duplicate map key, bounded nesting
// and sizes, no tags beyond those a COSE_Sign1 needs.
var cborDec, _ = cbor.DecOptions{
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	MaxNestedLevels:  16,
	MaxArrayElements: 1024,
	MaxMapPairs:      1024,
	IndefLength:      cbor.IndefLengthForbidden,
}.DecMode()

// cborEnc writes deterministic CBOR (RFC 8949 4.2.1).
var cborEnc, _ = cbor.CoreDetEncOptions().EncMode()

// MarshalCBOR encodes v as {2451: {delta: value, ...}}.
func (v *Voucher) MarshalCBOR() ([]byte, error) {
	js, _ := v.MarshalJSON()
	return jsonToCBOR(js, voucherMember, SIDVoucher, voucherSIDs)
}

// MarshalCBOR encodes r as {2501: {delta: value, ...}}.
func (r *VoucherRequest) MarshalCBOR() ([]byte, error) {
	js, _ := r.MarshalJSON()
	return jsonToCBOR(js, voucherRequestMember, SIDVoucherRequest, requestSIDs)
}

// ParseVoucherCBOR decodes a CBOR voucher and validates it as a voucher.
func ParseVoucherCBOR(data []byte) (*Voucher, error) {
	js, err := cborToJSON(data, voucherMember, SIDVoucher, voucherSIDs)
	if err != nil {
		return nil, err
	}
	return ParseVoucherJSON(js)
}

func decodeVoucherCBOR(data []byte) (*Voucher, error) {
	js, err := cborToJSON(data, voucherMember, SIDVoucher, voucherSIDs)
	if err != nil {
		return nil, err
	}
	return decodeVoucher(js)
}

// ParseVoucherRequestCBOR decodes a CBOR voucher-request; validate it for
// its role.
func ParseVoucherRequestCBOR(data []byte) (*VoucherRequest, error) {
	js, err := cborToJSON(data, voucherRequestMember, SIDVoucherRequest, requestSIDs)
	if err != nil {
		return nil, err
	}
	return ParseVoucherRequestJSON(js)
}

func jsonToCBOR(js []byte, member string, sid uint64, table map[uint64]sidLeaf) ([]byte, error) {
	var doc map[string]map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("voucher: cbor: %w", err)
	}
	byName := make(map[string]uint64, len(table))
	for d, l := range table {
		byName[l.name] = d
	}
	inner := make(map[uint64]any)
	for name, val := range doc[member] {
		d, ok := byName[name]
		if !ok {
			// An extension's sub-map is keyed by its module's SID
			// (rfc8366bis), which only the extension's definition knows.
			return nil, fmt.Errorf("voucher: cbor: leaf %s has no SID", name)
		}
		s, _ := val.(string)
		switch table[d].kind {
		case kindBinary, kindBinaryAny:
			b, ok := base64AnyAlphabet(s)
			if !ok {
				return nil, fmt.Errorf("voucher: cbor: %s is not base64", name)
			}
			inner[d] = b
		case kindNonce:
			b, err := nonceBytes(s)
			if err != nil {
				return nil, err
			}
			inner[d] = b
		case kindAssertion:
			code := -1
			for i, a := range assertionCodes {
				if string(a) == s {
					code = i
				}
			}
			if code < 0 {
				return nil, fail(ErrUnknownAssertion, "%q has no CBOR value", s)
			}
			inner[d] = code
		default: // strings, booleans, and the extensions list of names
			inner[d] = val
		}
	}
	return cborEnc.Marshal(map[uint64]any{sid: inner})
}

// nonceBytes returns the bytes a nonce string stands for: the nonce is YANG
// binary, which implementations write in either base64 alphabet, padded or
// not (NewNonce writes unpadded base64url).
func nonceBytes(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, fail(ErrMalformed, "nonce %q is not base64, and CBOR carries it as bytes", s)
}

// NonceFromBytes is the Artifact.Nonce string of a CBOR nonce: unpadded
// base64url, what NewNonce writes, so that a nonce survives a CBOR round
// trip unchanged.
func NonceFromBytes(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func cborToJSON(data []byte, member string, sid uint64, table map[uint64]sidLeaf) ([]byte, error) {
	var top map[any]cbor.RawMessage
	if err := cborDec.Unmarshal(data, &top); err != nil {
		return nil, failWrap(ErrMalformed, err, "CBOR voucher")
	}
	if len(top) != 1 {
		return nil, fail(ErrMalformed, "CBOR voucher: %d top-level members, want 1", len(top))
	}
	var body cbor.RawMessage
	for k, v := range top {
		switch k := k.(type) {
		case uint64:
			if k != sid {
				return nil, fail(ErrUnsupportedContent, "CBOR voucher: top-level SID %d, want %d", k, sid)
			}
		case string:
			if k != member {
				return nil, fail(ErrUnsupportedContent, "CBOR voucher: top-level member %q, want %q", k, member)
			}
		default:
			return nil, fail(ErrMalformed, "CBOR voucher: top-level key %T", k)
		}
		body = v
	}
	var leaves map[any]cbor.RawMessage
	if err := cborDec.Unmarshal(body, &leaves); err != nil {
		return nil, failWrap(ErrMalformed, err, "CBOR voucher container")
	}
	byName := make(map[string]sidLeaf, len(table))
	for _, l := range table {
		byName[l.name] = l
	}
	out := make(map[string]any, len(leaves))
	for _, k := range leafKeysInOrder(leaves) {
		raw := leaves[k]
		var leaf sidLeaf
		var ok bool
		switch k := k.(type) {
		case uint64:
			leaf, ok = table[k]
			if !ok {
				return nil, fail(ErrUnknownLeaf, "SID delta %d (SID %d)", k, sid+k)
			}
		case string:
			if leaf, ok = byName[k]; !ok {
				return nil, fail(ErrUnknownLeaf, "%q", k)
			}
		case cbor.Tag:
			// rfc8366bis keys an extension's sub-map by its module's
			// absolute SID, tag 47; which SID names which extension is
			// the extension's own definition, unknown here.
			return nil, fail(ErrUnsupportedContent, "CBOR voucher: extension sub-map under tag %d: extensions by SID are not supported", k.Number)
		default:
			return nil, fail(ErrMalformed, "CBOR voucher: leaf key %T", k)
		}
		if _, dup := out[leaf.name]; dup {
			return nil, fail(ErrMalformed, "%s twice, by name and by SID", leaf.name)
		}
		var val any
		if err := cborDec.Unmarshal(raw, &val); err != nil {
			return nil, failWrap(ErrMalformed, err, "%s", leaf.name)
		}
		switch leaf.kind {
		case kindBinary, kindBinaryAny, kindNonce:
			b, ok := val.([]byte)
			if !ok {
				return nil, fail(ErrMalformed, "%s is not a byte string", leaf.name)
			}
			if leaf.kind == kindNonce {
				out[leaf.name] = NonceFromBytes(b)
			} else {
				out[leaf.name] = base64.StdEncoding.EncodeToString(b)
			}
		case kindAssertion:
			switch a := val.(type) {
			case uint64:
				if a >= uint64(len(assertionCodes)) {
					return nil, fail(ErrUnknownAssertion, "CBOR assertion %d", a)
				}
				out[leaf.name] = string(assertionCodes[a])
			case string:
				out[leaf.name] = a
			default:
				return nil, fail(ErrMalformed, "assertion is %T, not an enumeration", val)
			}
		case kindBool:
			if _, ok := val.(bool); !ok {
				return nil, fail(ErrMalformed, "%s is not a boolean", leaf.name)
			}
			out[leaf.name] = val
		case kindExtensions:
			// The union's uint64 arm names an extension by SID; only
			// names can be carried into the JSON model.
			list, ok := val.([]any)
			if !ok {
				return nil, fail(ErrMalformed, "%s is not an array", leaf.name)
			}
			for _, e := range list {
				switch e.(type) {
				case string:
				case uint64:
					return nil, fail(ErrUnsupportedContent, "%s: extension SID %d: extensions by SID are not supported", leaf.name, e)
				default:
					return nil, fail(ErrMalformed, "%s holds a %T", leaf.name, e)
				}
			}
			out[leaf.name] = list
		default:
			if _, ok := val.(string); !ok {
				return nil, fail(ErrMalformed, "%s is not a text string", leaf.name)
			}
			out[leaf.name] = val
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{member: out}); err != nil {
		return nil, failWrap(ErrMalformed, err, "CBOR voucher")
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// leafKeysInOrder lists a decoded container's keys in a fixed order, so
// that a voucher with several faults is always refused for the same one:
// SID deltas ascending, then names, then tagged keys by tag number, then
// keys of any other type.
func leafKeysInOrder(leaves map[any]cbor.RawMessage) []any {
	rank := func(k any) int {
		switch k.(type) {
		case uint64:
			return 0
		case string:
			return 1
		case cbor.Tag:
			return 2
		}
		return 3
	}
	keys := make([]any, 0, len(leaves))
	for k := range leaves {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b any) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return cmp.Compare(ra, rb)
		}
		switch a := a.(type) {
		case uint64:
			return cmp.Compare(a, b.(uint64))
		case string:
			return cmp.Compare(a, b.(string))
		case cbor.Tag:
			return cmp.Compare(a.Number, b.(cbor.Tag).Number)
		}
		return 0
	})
	return keys
}
