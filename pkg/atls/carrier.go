package atls

import (
	"encoding/binary"
	"fmt"
	"io"
)

// This file implements the connection-ID carrier (profile 4.1): the
// draft's oscore_connection_id and cose_ext bodies sent as the first
// application data in each direction.

// ExtensionType values of the connection-ID carrier (profile 4.1): the
// draft's TBD1 and TBD2, from the private-use range.
const (
	ExtOSCOREConnectionID uint16 = 0xFFDC
	ExtCOSE               uint16 = 0xFFDD
)

// carrierType is the ExtensionType that must accompany an ALPN (profile 4.1).
func carrierType(proto string) uint16 {
	if proto == ProtoCOSE {
		return ExtCOSE
	}
	return ExtOSCOREConnectionID
}

// appendCarrier encodes ExtensionType || cid_len || cid (profile 4.1).
func appendCarrier(b []byte, ext uint16, cid []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, ext)
	b = append(b, byte(len(cid)))
	return append(b, cid...)
}

// readCarrier reads exactly one carrier from r, independent of record
// boundaries, and checks its type and CID length.
func readCarrier(r io.Reader, wantExt uint16, maxCID int) ([]byte, error) {
	var hdr [3]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading connection-ID carrier: %w", err)
	}
	ext := binary.BigEndian.Uint16(hdr[:2])
	if ext != wantExt {
		return nil, fmt.Errorf("connection-ID carrier has ExtensionType %#04x, want %#04x", ext, wantExt)
	}
	n := int(hdr[2])
	if n > maxCID {
		return nil, fmt.Errorf("connection ID of %d bytes exceeds %d", n, maxCID)
	}
	cid := make([]byte, n)
	if _, err := io.ReadFull(r, cid); err != nil {
		return nil, fmt.Errorf("reading connection ID: %w", err)
	}
	return cid, nil
}
