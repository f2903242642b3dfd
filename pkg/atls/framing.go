package atls

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// This file implements the record framing of a flight (profile 1.1 and
// 1.5): a POST body is a sequence of whole TLS records (RFC 8446 5.1) of
// content types 20-23, checked before any cryptography.

// TLS record content types that may travel in an ATLS flight (RFC 8446 5.1):
// change_cipher_spec, alert, handshake, application_data.
const (
	recordChangeCipherSpec = 20
	recordAlert            = 21
	recordHandshake        = 22
	recordApplicationData  = 23

	recordHeaderLen = 5
	// maxRecordPayload is the largest TLSCiphertext fragment, 2^14 + 256
	// (RFC 8446 5.2).
	maxRecordPayload = 1<<14 + 256

	handshakeClientHello = 1
)

// errMalformedFlight is wrapped by every framing error; the server answers
// it with 400 (profile 1.5).
var errMalformedFlight = errors.New("flight is not a sequence of well-formed TLS records")

// checkFlight verifies that body is a non-empty sequence of complete TLS
// records of content types 20-23 (profile 1.1). It does not look inside the
// records: the TLS stack judges their contents.
func checkFlight(body []byte) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty", errMalformedFlight)
	}
	for off := 0; off < len(body); {
		if len(body)-off < recordHeaderLen {
			return fmt.Errorf("%w: truncated record header at byte %d", errMalformedFlight, off)
		}
		typ := body[off]
		if typ < recordChangeCipherSpec || typ > recordApplicationData {
			return fmt.Errorf("%w: content type %d at byte %d", errMalformedFlight, typ, off)
		}
		if body[off+1] != 3 {
			return fmt.Errorf("%w: record version %#02x%02x at byte %d", errMalformedFlight, body[off+1], body[off+2], off)
		}
		n := int(binary.BigEndian.Uint16(body[off+3:]))
		if n > maxRecordPayload {
			return fmt.Errorf("%w: record length %d exceeds %d", errMalformedFlight, n, maxRecordPayload)
		}
		// RFC 8446 5.1: zero-length handshake and alert fragments are forbidden.
		if n == 0 && (typ == recordHandshake || typ == recordAlert) {
			return fmt.Errorf("%w: empty %s record at byte %d", errMalformedFlight, recordName(typ), off)
		}
		off += recordHeaderLen
		if len(body)-off < n {
			return fmt.Errorf("%w: record at byte %d truncated (%d of %d bytes)", errMalformedFlight, off-recordHeaderLen, len(body)-off, n)
		}
		off += n
	}
	return nil
}

// startsWithClientHello reports whether a well-formed flight opens with a
// handshake record whose first message is a ClientHello (profile 1.2).
func startsWithClientHello(body []byte) bool {
	return len(body) > recordHeaderLen && body[0] == recordHandshake && body[recordHeaderLen] == handshakeClientHello
}

func recordName(typ byte) string {
	switch typ {
	case recordChangeCipherSpec:
		return "change_cipher_spec"
	case recordAlert:
		return "alert"
	case recordHandshake:
		return "handshake"
	case recordApplicationData:
		return "application_data"
	}
	return fmt.Sprintf("type %d", typ)
}

// readAllSized reads r to its end like io.ReadAll, into a buffer of the
// announced size (a Content-Length) instead of one grown from 512 bytes; r
// keeps enforcing the limit. A size that is unknown (negative) or larger
// than any flight falls back to io.ReadAll.
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > MaxInnerResponse+MaxFlightSize {
		return io.ReadAll(r)
	}
	// One spare byte, so that the read that reports the end needs no growth.
	b := make([]byte, 0, size+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
