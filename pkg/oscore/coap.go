package oscore

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// The inner message of OSCORE is a CoAP message without header, token or
// Class U/I options (RFC 8613 5.3): Code, Class E options, and the payload
// behind a 0xFF marker when there is one.

// Code is a CoAP code, class.detail (RFC 7252 12.1).
type Code byte

// Codes used by the profile (5.2, 5.5).
const (
	GET                      Code = 0x01
	POST                     Code = 0x02
	PUT                      Code = 0x03
	DELETE                   Code = 0x04
	Created                  Code = 0x41
	Deleted                  Code = 0x42
	Changed                  Code = 0x44
	Content                  Code = 0x45
	BadRequest               Code = 0x80
	Unauthorized             Code = 0x81
	BadOption                Code = 0x82
	Forbidden                Code = 0x83
	NotFound                 Code = 0x84
	MethodNotAllowed         Code = 0x85
	NotAcceptable            Code = 0x86
	RequestEntityTooLarge    Code = 0x8d
	UnsupportedContentFormat Code = 0x8f
	InternalServerError      Code = 0xa0
	BadGateway               Code = 0xa2
	ServiceUnavailable       Code = 0xa3
	GatewayTimeout           Code = 0xa4
)

func (c Code) String() string { return fmt.Sprintf("%d.%02d", c>>5, c&0x1f) }

// IsRequest reports whether c is a request method code.
func (c Code) IsRequest() bool { return c >= 1 && c <= 31 }

// Option numbers of the inner message (RFC 7252 5.10, RFC 8613 4.1).
const (
	OptLocationPath  = 8
	OptUriPath       = 11
	OptContentFormat = 12
	OptMaxAge        = 14
	OptUriQuery      = 15
	OptAccept        = 17
	OptLocationQuery = 20
	OptEcho          = 252 // RFC 9175 2.2.1: Class E under OSCORE
)

// CoAPOption is one option instance.
type CoAPOption struct {
	Number uint16
	Value  []byte
}

// Message is an inner CoAP message.
type Message struct {
	Code    Code
	Options []CoAPOption // ascending by number; repeats keep their order
	Payload []byte
}

// Marshal encodes m (RFC 7252 3.1 option format, RFC 8613 5.3).
func (m *Message) Marshal() []byte {
	opts := append([]CoAPOption(nil), m.Options...)
	sort.SliceStable(opts, func(i, j int) bool { return opts[i].Number < opts[j].Number })
	b := []byte{byte(m.Code)}
	prev := uint16(0)
	for _, o := range opts {
		delta, length := int(o.Number-prev), len(o.Value)
		prev = o.Number
		hdr := len(b)
		b = append(b, 0)
		dn, b2 := optNibble(delta, b)
		ln, b3 := optNibble(length, b2)
		b3[hdr] = dn<<4 | ln
		b = append(b3, o.Value...)
	}
	if len(m.Payload) > 0 {
		b = append(b, 0xff)
		b = append(b, m.Payload...)
	}
	return b
}

// optNibble returns the 4-bit code of an option delta or length and
// appends its extended bytes.
func optNibble(v int, b []byte) (byte, []byte) {
	switch {
	case v < 13:
		return byte(v), b
	case v < 269:
		return 13, append(b, byte(v-13))
	default:
		return 14, binary.BigEndian.AppendUint16(b, uint16(v-269))
	}
}

// UnmarshalMessage decodes an inner message strictly: a reserved nibble,
// a truncated option, an option number overflow, a Class U option, or a
// payload marker with no payload (a plaintext ending in 0xFF) is
// malformed. Delta encoding makes options ascending by construction.
func UnmarshalMessage(b []byte) (*Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty inner message", ErrMalformed)
	}
	m := &Message{Code: Code(b[0])}
	b = b[1:]
	num := 0
	for len(b) > 0 {
		if b[0] == 0xff {
			if len(b) == 1 {
				return nil, fmt.Errorf("%w: payload marker without payload", ErrMalformed)
			}
			m.Payload = b[1:]
			return m, nil
		}
		dn, ln := int(b[0]>>4), int(b[0]&0x0f)
		b = b[1:]
		var delta, length int
		var err error
		if delta, b, err = optExtended(dn, b); err != nil {
			return nil, err
		}
		if length, b, err = optExtended(ln, b); err != nil {
			return nil, err
		}
		num += delta
		if num > 0xffff {
			return nil, fmt.Errorf("%w: option number overflow", ErrMalformed)
		}
		if len(b) < length {
			return nil, fmt.Errorf("%w: option %d truncated", ErrMalformed, num)
		}
		if classU(num) {
			return nil, fmt.Errorf("%w: Class U option %d inside the protected message", ErrMalformed, num)
		}
		m.Options = append(m.Options, CoAPOption{Number: uint16(num), Value: b[:length]})
		b = b[length:]
	}
	return m, nil
}

// classU reports whether an option is only ever outer (RFC 8613 4.1.2:
// Uri-Host, Uri-Port, OSCORE, Proxy-Uri, Proxy-Scheme), so that finding it
// in a plaintext means a malformed message.
func classU(num int) bool {
	switch num {
	case 3, 7, 9, 35, 39:
		return true
	}
	return false
}

func optExtended(nibble int, b []byte) (int, []byte, error) {
	switch nibble {
	case 13:
		if len(b) < 1 {
			return 0, nil, fmt.Errorf("%w: truncated option extension", ErrMalformed)
		}
		return int(b[0]) + 13, b[1:], nil
	case 14:
		if len(b) < 2 {
			return 0, nil, fmt.Errorf("%w: truncated option extension", ErrMalformed)
		}
		return int(binary.BigEndian.Uint16(b)) + 269, b[2:], nil
	case 15:
		return 0, nil, fmt.Errorf("%w: reserved option nibble 15", ErrMalformed)
	}
	return nibble, b, nil
}

// Add appends an option.
func (m *Message) Add(num uint16, value []byte) {
	m.Options = append(m.Options, CoAPOption{num, value})
}

// AddUint appends a uint option in its shortest form (0 is empty).
func (m *Message) AddUint(num uint16, v uint32) {
	var b []byte
	for x := v; x > 0; x >>= 8 {
		b = append([]byte{byte(x)}, b...)
	}
	m.Add(num, b)
}

// Strings returns every value of a repeatable string option.
func (m *Message) Strings(num uint16) []string {
	var out []string
	for _, o := range m.Options {
		if o.Number == num {
			out = append(out, string(o.Value))
		}
	}
	return out
}

// Uint returns a uint option's value; ok is false when absent. A value
// longer than 4 bytes, with a leading zero byte, or repeated is malformed.
func (m *Message) Uint(num uint16) (v uint32, ok bool, err error) {
	for _, o := range m.Options {
		if o.Number != num {
			continue
		}
		if ok {
			return 0, false, fmt.Errorf("%w: option %d repeated", ErrMalformed, num)
		}
		if len(o.Value) > 4 {
			return 0, false, fmt.Errorf("%w: option %d longer than 4 bytes", ErrMalformed, num)
		}
		if len(o.Value) > 0 && o.Value[0] == 0 {
			// RFC 7252 3.2, profile 5.2: uint values use the fewest bytes.
			return 0, false, fmt.Errorf("%w: option %d is not minimally encoded", ErrMalformed, num)
		}
		for _, c := range o.Value {
			v = v<<8 | uint32(c)
		}
		ok = true
	}
	return v, ok, nil
}
