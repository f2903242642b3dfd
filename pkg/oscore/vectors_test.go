package oscore

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func h(s string) []byte {
	s = strings.TrimPrefix(strings.ReplaceAll(s, " ", ""), "0x")
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func eq(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s = %x, want %x", what, got, want)
	}
}

var rfcSecret = h("0102030405060708090a0b0c0d0e0f10")

// TestRFC8613KeyDerivation reproduces Appendix C.1-C.3 byte for byte,
// for client and server.
func TestRFC8613KeyDerivation(t *testing.T) {
	cases := []struct {
		name                 string
		salt, idctx          []byte
		client, server       []byte // Sender IDs
		infoC, infoS, infoIV string
		keyC, keyS, iv       string
		nonceC0, nonceS0     string
	}{
		{"C.1", h("9e7ca92223786340"), nil, h(""), h("01"),
			"8540f60a634b657910", "854101f60a634b657910", "8540f60a6249560d",
			"f0910ed7295e6ad4b54fc793154302ff", "ffb14e093c94c9cac9471648b4f98710", "4622d4dd6d944168eefb54987c",
			"4622d4dd6d944168eefb54987c", "4722d4dd6d944169eefb54987c"},
		{"C.2", nil, nil, h("00"), h("01"),
			"854100f60a634b657910", "854101f60a634b657910", "8540f60a6249560d",
			"321b26943253c7ffb6003b0b64d74041", "e57b5635815177cd679ab4bcec9d7dda", "be35ae297d2dace910c52e99f9",
			"bf35ae297d2dace910c52e99f9", "bf35ae297d2dace810c52e99f9"},
		{"C.3", h("9e7ca92223786340"), h("37cbf3210017a2d3"), h(""), h("01"),
			"85404837cbf3210017a2d30a634b657910", "8541014837cbf3210017a2d30a634b657910", "85404837cbf3210017a2d30a6249560d",
			"af2a1300a5e95788b356336eeecd2b92", "e39a0c7c77b43f03b4b39ab9a268699f", "2ca58fb85ff1b81c0b7181b85e",
			"2ca58fb85ff1b81c0b7181b85e", "2da58fb85ff1b81d0b7181b85e"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			eq(t, "client info", kdfInfo(c.client, c.idctx, AESCCM16_64_128, "Key", 16), h(c.infoC))
			eq(t, "server info", kdfInfo(c.server, c.idctx, AESCCM16_64_128, "Key", 16), h(c.infoS))
			eq(t, "IV info", kdfInfo(nil, c.idctx, AESCCM16_64_128, "IV", 13), h(c.infoIV))
			cl, err := Derive(Params{AEAD: AESCCM16_64_128, MasterSecret: rfcSecret, MasterSalt: c.salt, SenderID: c.client, RecipientID: c.server, IDContext: c.idctx})
			if err != nil {
				t.Fatal(err)
			}
			sv, err := Derive(Params{AEAD: AESCCM16_64_128, MasterSecret: rfcSecret, MasterSalt: c.salt, SenderID: c.server, RecipientID: c.client, IDContext: c.idctx})
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "client Sender Key", cl.SenderKey, h(c.keyC))
			eq(t, "client Recipient Key", cl.RecipientKey, h(c.keyS))
			eq(t, "server Sender Key", sv.SenderKey, h(c.keyS))
			eq(t, "server Recipient Key", sv.RecipientKey, h(c.keyC))
			eq(t, "Common IV", cl.CommonIV, h(c.iv))
			eq(t, "server Common IV", sv.CommonIV, h(c.iv))
			eq(t, "client sender nonce", cl.nonce(cl.SenderID, []byte{0}), h(c.nonceC0))
			eq(t, "client recipient nonce", cl.nonce(cl.RecipientID, []byte{0}), h(c.nonceS0))
			eq(t, "server sender nonce", sv.nonce(sv.SenderID, []byte{0}), h(c.nonceS0))
			eq(t, "server recipient nonce", sv.nonce(sv.RecipientID, []byte{0}), h(c.nonceC0))
		})
	}
}

// TestRFC8613Requests reproduces C.4-C.6: protect on the client, and the
// server decrypts the RFC's ciphertext back to the plaintext.
func TestRFC8613Requests(t *testing.T) {
	cases := []struct {
		name                   string
		salt, idctx, client    []byte
		aad, nonce, option, ct string
	}{
		{"C.4", h("9e7ca92223786340"), nil, h(""), "8368456e63727970743040488501810a40411440", "4622d4dd6d944168eefb549868", "0914", "612f1092f1776f1c1668b3825e"},
		{"C.5", nil, nil, h("00"), "8368456e63727970743040498501810a4100411440", "bf35ae297d2dace910c52e99ed", "091400", "4ed339a5a379b0b8bc731fffb0"},
		{"C.6", h("9e7ca92223786340"), h("37cbf3210017a2d3"), h(""), "8368456e63727970743040488501810a40411440", "2ca58fb85ff1b81c0b7181b84a", "19140837cbf3210017a2d3", "72cd7273fd331ac45cffbe55c3"},
	}
	plaintext := h("01b3747631")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, err := NewContext(Params{AEAD: AESCCM16_64_128, MasterSecret: rfcSecret, MasterSalt: c.salt, SenderID: c.client, RecipientID: h("01"), IDContext: c.idctx})
			if err != nil {
				t.Fatal(err)
			}
			cl.SetSequence(20)
			opt, ct, st, err := cl.ProtectRequest(plaintext)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "AAD", oscoreAAD(AESCCM16_64_128, st.KID, st.PIV), h(c.aad))
			eq(t, "nonce", st.Nonce, h(c.nonce))
			eq(t, "ciphertext", ct, h(c.ct))
			if c.idctx != nil { // the RFC's option also carries the kid context
				opt = Option{PIV: st.PIV, KIDContext: c.idctx, KID: st.KID}.Marshal()
			}
			eq(t, "option", opt, h(c.option))

			sv, _ := Derive(Params{AEAD: AESCCM16_64_128, MasterSecret: rfcSecret, MasterSalt: c.salt, SenderID: h("01"), RecipientID: c.client, IDContext: c.idctx})
			parsed, err := ParseOption(h(c.option))
			if err != nil {
				t.Fatal(err)
			}
			pt, sst, err := sv.UnprotectRequest(parsed, h(c.ct))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "server plaintext", pt, plaintext)
			eq(t, "server nonce", sst.Nonce, h(c.nonce))
		})
	}
}

// TestRFC8613Responses reproduces C.7 (no Partial IV) and C.8 (with one).
func TestRFC8613Responses(t *testing.T) {
	salt := h("9e7ca92223786340")
	cl, _ := NewContext(Params{AEAD: AESCCM16_64_128, MasterSecret: rfcSecret, MasterSalt: salt, SenderID: h(""), RecipientID: h("01")})
	sv, _ := NewContext(Params{AEAD: AESCCM16_64_128, MasterSecret: rfcSecret, MasterSalt: salt, SenderID: h("01"), RecipientID: h("")})
	cl.SetSequence(20)
	_, reqCT, st, _ := cl.ProtectRequest(h("01b3747631"))
	opt, _ := ParseOption(h("0914"))
	_, sst, err := sv.UnprotectRequest(opt, reqCT)
	if err != nil {
		t.Fatal(err)
	}
	plaintext := h("45ff48656c6c6f20576f726c6421")

	o7, ct7 := sv.ProtectResponse(sst, plaintext)
	eq(t, "C.7 option", o7, nil)
	eq(t, "C.7 ciphertext", ct7, h("dbaad1e9a7e7b2a813d3c31524378303cdafae119106"))
	if pt, err := cl.UnprotectResponse(st, o7, ct7); err != nil || !bytes.Equal(pt, plaintext) {
		t.Fatalf("C.7 client: %x %v", pt, err)
	}

	o8, ct8, err := sv.ProtectResponseWithPIV(sst, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "C.8 option", o8, h("0100"))
	eq(t, "C.8 nonce", sv.nonce(sv.SenderID, []byte{0}), h("4722d4dd6d944169eefb54987c"))
	eq(t, "C.8 ciphertext", ct8, h("4d4c13669384b67354b2b6175ff4b8658c666a6cf88e"))
	if pt, err := cl.UnprotectResponse(st, o8, ct8); err != nil || !bytes.Equal(pt, plaintext) {
		t.Fatalf("C.8 client: %x %v", pt, err)
	}
	// A flipped bit fails authentication.
	ct8[0] ^= 1
	if _, err := cl.UnprotectResponse(st, o8, ct8); err != ErrDecrypt {
		t.Fatalf("tampered response: %v", err)
	}
}

func TestAADExampleFromRFC(t *testing.T) {
	eq(t, "aad_array", aadArray(AESCCM16_64_128, h("00"), h("25")), h("8501810a4100412540"))
	eq(t, "AAD", oscoreAAD(AESCCM16_64_128, h("00"), h("25")), h("8368456e63727970743040498501810a4100412540"))
}
