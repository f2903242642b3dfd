package oscore

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestRoundTripAllAlgorithms runs a request and both kinds of response
// through every AEAD and both HKDF hashes, in OSCORE and COSE form, with
// the longest IDs the nonce allows and with an empty client ID. It also
// checks the key and nonce lengths of RFC 9053 and that a flipped bit or a
// wrong request binding fails.
func TestRoundTripAllAlgorithms(t *testing.T) {
	lengths := map[Algorithm][3]int{ // key, nonce, tag
		A128GCM: {16, 12, 16}, A256GCM: {32, 12, 16}, ChaCha20Poly1305: {32, 12, 16},
		AESCCM16_64_128: {16, 13, 8}, AESCCM16_64_256: {32, 13, 8},
		AESCCM16_128_128: {16, 13, 16}, AESCCM16_128_256: {32, 13, 16},
	}
	for alg, l := range lengths {
		if alg.KeyLen() != l[0] || alg.NonceLen() != l[1] || alg.TagLen() != l[2] {
			t.Errorf("%v: lengths %d/%d/%d", alg, alg.KeyLen(), alg.NonceLen(), alg.TagLen())
		}
		for _, hk := range []HKDF{HKDFSHA256, HKDFSHA384} {
			for _, ids := range [][2][]byte{
				{bytes.Repeat([]byte{0xc1}, alg.MaxIDLen()), bytes.Repeat([]byte{0x5e}, alg.MaxIDLen())},
				{{}, {0x01}},
			} {
				t.Run(fmt.Sprintf("%v/%v/%d", alg, hk, len(ids[0])), func(t *testing.T) {
					roundTrip(t, alg, hk, ids[0], ids[1])
				})
			}
		}
	}
}

func roundTrip(t *testing.T, alg Algorithm, hk HKDF, clientID, serverID []byte) {
	secret := exporterOutput(alg.KeyLen())
	salt := []byte("salt")
	cl, err := NewContext(Params{AEAD: alg, HKDF: hk, MasterSecret: secret, MasterSalt: salt, SenderID: clientID, RecipientID: serverID})
	if err != nil {
		t.Fatal(err)
	}
	sv, err := NewContext(Params{AEAD: alg, HKDF: hk, MasterSecret: secret, MasterSalt: salt, SenderID: serverID, RecipientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.SenderKey) != alg.KeyLen() || len(cl.CommonIV) != alg.NonceLen() || !bytes.Equal(cl.SenderKey, sv.RecipientKey) {
		t.Fatal("derived keys disagree")
	}
	cl.SetSequence(MaxSequence - 2)
	req := []byte{byte(POST), 0xb3, 'e', 's', 't', 0xff, 'x'}

	// OSCORE request, response without and with a Partial IV.
	opt, ct, st, err := cl.ProtectRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOption(opt)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := DecodePIV(o.PIV); v != MaxSequence-2 {
		t.Fatalf("PIV %x", o.PIV)
	}
	pt, sst, err := sv.UnprotectRequest(o, ct)
	if err != nil || !bytes.Equal(pt, req) {
		t.Fatalf("request: %x %v", pt, err)
	}
	ropt, rct := sv.ProtectResponse(sst, []byte{byte(Changed)})
	if got, err := cl.UnprotectResponse(st, ropt, rct); err != nil || !bytes.Equal(got, []byte{byte(Changed)}) {
		t.Fatalf("response: %x %v", got, err)
	}
	popt, pct, err := sv.ProtectResponseWithPIV(sst, []byte{byte(Content)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cl.UnprotectResponse(st, popt, pct); err != nil || !bytes.Equal(got, []byte{byte(Content)}) {
		t.Fatalf("response with PIV: %x %v", got, err)
	}
	// Tampering and a response bound to another request fail.
	bad := append([]byte{}, ct...)
	bad[len(bad)-1] ^= 0x80
	if _, _, err := sv.UnprotectRequest(o, bad); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered request: %v", err)
	}
	_, _, st2, _ := cl.ProtectRequest(req)
	if _, err := cl.UnprotectResponse(st2, ropt, rct); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("response to another request: %v", err)
	}

	// COSE: the sequence number runs out on the next request.
	obj, cst, err := cl.SealRequest([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEncrypt0(obj)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sv.OpenRequest(e); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.SealRequest(nil); !errors.Is(err, ErrSequenceExhausted) {
		t.Fatalf("sequence past 2^40-1: %v", err)
	}
	_, sst2, _ := sv.OpenRequest(e)
	resp := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	if got, err := cl.OpenResponse(cst, sv.SealResponse(sst2, resp)); err != nil || !bytes.Equal(got, resp) {
		t.Fatalf("COSE response: %q %v", got, err)
	}
}
