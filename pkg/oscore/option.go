package oscore

import (
	"encoding/base64"
	"fmt"
)

// Option is the value of the OSCORE option (RFC 8613 6.1).
type Option struct {
	PIV        []byte // Partial IV; nil when absent
	KIDContext []byte // nil when absent
	KID        []byte // nil when absent
}

// Marshal encodes the option value: flags, PIV, kid context, kid. An option
// with nothing in it is empty.
func (o Option) Marshal() []byte {
	if o.PIV == nil && o.KIDContext == nil && o.KID == nil {
		return []byte{}
	}
	flags := byte(len(o.PIV))
	if o.KID != nil {
		flags |= 0x08
	}
	if o.KIDContext != nil {
		flags |= 0x10
	}
	b := append([]byte{flags}, o.PIV...)
	if o.KIDContext != nil {
		b = append(b, byte(len(o.KIDContext)))
		b = append(b, o.KIDContext...)
	}
	return append(b, o.KID...)
}

// ParseOption parses an option value strictly (RFC 8613 6.1): reserved flag
// bits, PIV lengths 6 and 7, a non-empty value whose flags are all zero, and
// anything that does not add up are malformed. The empty value is the empty
// option.
func ParseOption(v []byte) (Option, error) {
	var o Option
	if len(v) == 0 {
		return o, nil
	}
	flags := v[0]
	if flags&0xe0 != 0 {
		return o, fmt.Errorf("%w: reserved OSCORE flag bits set (%#02x)", ErrMalformed, flags)
	}
	n := int(flags & 0x07)
	if n > 5 {
		return o, fmt.Errorf("%w: Partial IV length %d is reserved", ErrMalformed, n)
	}
	if flags == 0 {
		// RFC 8613 6.1: all flag bits zero means an empty option value.
		// (The HTTP header's "AA" is that empty value; DecodeHeader maps it.)
		return o, fmt.Errorf("%w: OSCORE option with all flag bits zero must be empty", ErrMalformed)
	}
	rest := v[1:]
	if len(rest) < n {
		return o, fmt.Errorf("%w: option shorter than its Partial IV", ErrMalformed)
	}
	if n > 0 {
		o.PIV, rest = rest[:n], rest[n:]
	}
	if flags&0x10 != 0 {
		if len(rest) < 1 || len(rest)-1 < int(rest[0]) {
			return o, fmt.Errorf("%w: truncated kid context", ErrMalformed)
		}
		s := int(rest[0])
		o.KIDContext, rest = rest[1:1+s], rest[1+s:]
	}
	if flags&0x08 != 0 {
		o.KID = rest
		rest = nil
	}
	if len(rest) != 0 {
		return o, fmt.Errorf("%w: %d unexplained bytes in the option", ErrMalformed, len(rest))
	}
	return o, nil
}

// EncodeHeader is the value of the HTTP OSCORE header field (RFC 8613
// 11.1): base64url without padding, "AA" for an empty option.
func EncodeHeader(optionValue []byte) string {
	if len(optionValue) == 0 {
		return "AA"
	}
	return base64.RawURLEncoding.EncodeToString(optionValue)
}

// DecodeHeader decodes the OSCORE header field strictly: padding or any
// character outside base64url is malformed (profile 5.2).
func DecodeHeader(h string) ([]byte, error) {
	if len(h) < 2 {
		return nil, fmt.Errorf("%w: OSCORE header too short", ErrMalformed)
	}
	v, err := base64.RawURLEncoding.Strict().DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("%w: OSCORE header is not unpadded base64url", ErrMalformed)
	}
	if len(v) == 1 && v[0] == 0 {
		return []byte{}, nil
	}
	return v, nil
}

// EncodePIV encodes a sequence number as a Partial IV: big-endian, leading
// zero bytes removed, 0 as 0x00 (RFC 8613 6.1).
func EncodePIV(seq uint64) []byte {
	var b []byte
	for s := seq; s > 0; s >>= 8 {
		b = append([]byte{byte(s)}, b...)
	}
	if b == nil {
		b = []byte{0}
	}
	return b
}

// DecodePIV is the integer value of a Partial IV of 1 to 5 bytes.
func DecodePIV(piv []byte) (uint64, error) {
	if len(piv) == 0 || len(piv) > 5 {
		return 0, fmt.Errorf("%w: Partial IV of %d bytes", ErrMalformed, len(piv))
	}
	var v uint64
	for _, c := range piv {
		v = v<<8 | uint64(c)
	}
	return v, nil
}
