package oscore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The few CBOR (RFC 8949) items OSCORE and COSE_Encrypt0 need, encoded in
// their preferred (shortest) form. A hand-written subset keeps the bytes
// under our control: a nil byte string is h'', never null (see the profile
// vectors' note on fxamacker/cbor).

const (
	majorUint  = 0
	majorNint  = 1
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
	majorTag   = 6
	simpleNull = 0xf6
)

func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, m|27), n)
	}
}

func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendHead(b, majorUint, uint64(v))
	}
	return appendHead(b, majorNint, uint64(-1-v))
}

func appendBytes(b, v []byte) []byte {
	return append(appendHead(b, majorBytes, uint64(len(v))), v...)
}

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majorText, uint64(len(s))), s...)
}

func appendArray(b []byte, n int) []byte { return appendHead(b, majorArray, uint64(n)) }

var errCBOR = errors.New("malformed CBOR")

// cborReader decodes the subset strictly: definite lengths only, and the
// caller says which types it expects.
type cborReader struct {
	b   []byte
	off int
}

func (r *cborReader) head() (major byte, n uint64, err error) {
	if r.off >= len(r.b) {
		return 0, 0, fmt.Errorf("%w: unexpected end", errCBOR)
	}
	ib := r.b[r.off]
	r.off++
	major, info := ib>>5, ib&0x1f
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info <= 27:
		size := 1 << (info - 24)
		if len(r.b)-r.off < size {
			return 0, 0, fmt.Errorf("%w: truncated head", errCBOR)
		}
		var v uint64
		for _, c := range r.b[r.off : r.off+size] {
			v = v<<8 | uint64(c)
		}
		r.off += size
		return major, v, nil
	}
	return 0, 0, fmt.Errorf("%w: unsupported additional information %d", errCBOR, info)
}

func (r *cborReader) expect(major byte) (uint64, error) {
	m, n, err := r.head()
	if err != nil {
		return 0, err
	}
	if m != major {
		return 0, fmt.Errorf("%w: major type %d, want %d", errCBOR, m, major)
	}
	return n, nil
}

func (r *cborReader) bytes() ([]byte, error) {
	n, err := r.expect(majorBytes)
	if err != nil {
		return nil, err
	}
	if uint64(len(r.b)-r.off) < n {
		return nil, fmt.Errorf("%w: byte string overruns input", errCBOR)
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

func (r *cborReader) int() (int64, error) {
	m, n, err := r.head()
	if err != nil {
		return 0, err
	}
	if n > 1<<62 {
		return 0, fmt.Errorf("%w: integer out of range", errCBOR)
	}
	switch m {
	case majorUint:
		return int64(n), nil
	case majorNint:
		return -1 - int64(n), nil
	}
	return 0, fmt.Errorf("%w: major type %d, want an integer", errCBOR, m)
}

func (r *cborReader) done() bool { return r.off == len(r.b) }
