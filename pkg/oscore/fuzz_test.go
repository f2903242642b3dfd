package oscore

import (
	"bytes"
	"context"
	"testing"
)

func FuzzParseOption(f *testing.F) {
	for _, s := range []string{"", "00", "0914", "091400", "19140837cbf3210017a2d3", "0100", "ff"} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOption(b)
		if err != nil {
			return
		}
		// What parses re-encodes to the same bytes: the encoding is
		// canonical (RFC 8613 6.1).
		if m := o.Marshal(); !bytes.Equal(m, b) {
			t.Fatalf("%x re-encodes as %x", b, m)
		}
	})
}

func FuzzUnmarshalMessage(f *testing.F) {
	for _, s := range []string{"02b46563686f10ff68656c6c6f", "44c0ff68656c6c6f", "01", "02e0ffff", "45ff00"} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalMessage(b)
		if err != nil {
			return
		}
		back, err := UnmarshalMessage(m.Marshal())
		if err != nil || back.Code != m.Code || !bytes.Equal(back.Payload, m.Payload) || len(back.Options) != len(m.Options) {
			t.Fatalf("%x does not survive a round trip: %v", b, err)
		}
		if m.Code.IsRequest() {
			req, err := MessageToRequest(context.Background(), m, "r.example")
			if err != nil {
				return
			}
			// The rebuilt target maps back to the same Uri-Path and
			// Uri-Query (RFC 7252 6.4 and 6.5 are inverses), except a lone
			// empty Uri-Path or Uri-Query, which "/" and "?" stand for
			// as well as for none.
			back, err := RequestToMessage(req, nil)
			if err != nil {
				t.Fatalf("rebuilt %q does not map back: %v", req.RequestURI, err)
			}
			if p := m.Strings(OptUriPath); !(len(p) == 1 && p[0] == "") && !equalStrings(p, back.Strings(OptUriPath)) {
				t.Fatalf("Uri-Path %q came back as %q via %q", p, back.Strings(OptUriPath), req.RequestURI)
			}
			if q := m.Strings(OptUriQuery); !(len(q) == 1 && q[0] == "") && !equalStrings(q, back.Strings(OptUriQuery)) {
				t.Fatalf("Uri-Query %q came back as %q via %q", q, back.Strings(OptUriQuery), req.RequestURI)
			}
		} else {
			MessageToResponse(m, nil)
		}
	})
}

func FuzzParseEncrypt0(f *testing.F) {
	f.Add(h("d08343a10101a204440a0b0c0d06410058"))
	f.Add(h("d08343a10101a10441015855ed21263e597a795b5a5e13ec5f9b6903"))
	f.Add(h("d08343a10101a040"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEncrypt0(b)
		if err != nil {
			return
		}
		// The encoding of what parsed parses back to the same fields (the
		// input's own encoding may order the header map differently).
		back, err := ParseEncrypt0(e.Marshal())
		if err != nil {
			t.Fatalf("%x re-encodes unparseably: %v", b, err)
		}
		if back.Alg != e.Alg || !bytes.Equal(back.KID, e.KID) || !bytes.Equal(back.PIV, e.PIV) ||
			(back.PIV == nil) != (e.PIV == nil) || !bytes.Equal(back.Ciphertext, e.Ciphertext) {
			t.Fatalf("%x does not survive a round trip", b)
		}
	})
}
