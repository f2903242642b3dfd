package oscore

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
)

// profileSuite is one suite of reference/profile-vectors.md.
type profileSuite struct {
	name                    string
	alg                     Algorithm
	hkdf                    HKDF
	keyLen                  int
	senderKey, recipientKey string
	commonIV, nonce, aad    string
	requestCT, responseCT   string
}

var profileSuites = []profileSuite{
	{"TLS_AES_128_GCM_SHA256", A128GCM, HKDFSHA256, 16,
		"5c7dfc6a1b462714733663e17dc675eb", "f71c5ff7cd726ce440aa24aabf263e9c",
		"cfbe5a7364371bd1e6412aeb", "cbbe5a796f3b16d1e6412aeb", "8368456e637279707430404c85018101440a0b0c0d410040",
		"8032f38b967e55c8dc6bade58bbe67102c13130f960b2f8326a549a892", "e1b58d0613273b054bf02df5b14e1e3cf833469c8df6c307"},
	{"TLS_AES_256_GCM_SHA384", A256GCM, HKDFSHA384, 32,
		"ed16c22f712cfc204501b6c30f003b9e5755bfba75eab73255b5c0e98694f4de", "ba406983c4d77f2144b8aa5c216a2f0d7e0379d4e682d8edc76c6f3945107854",
		"f4b8b13246d78947ca695917", "f0b8b1384ddb8447ca695917", "8368456e637279707430404c85018103440a0b0c0d410040",
		"4e0b436d3696dcfc4bd400d138ad4b4b6cb3f0127854c54e11366e5c81", "9497acae386a1f2f49e7cfc5cdf52aa57b03e3aaead871de"},
	{"TLS_CHACHA20_POLY1305_SHA256", ChaCha20Poly1305, HKDFSHA256, 32,
		"5853a22871563f035dc65743bd9bad6e498625cd599fa16af743783fde6af0a6", "49b20ac40d62ecb5021163fd279840c04c2872b9827c584bd20d1e60c8fb0a95",
		"deaf2771a0e4c319ec6d9434", "daaf277babe8ce19ec6d9434", "8368456e637279707430404d8501811818440a0b0c0d410040",
		"4fe39131e05f89b66327907d6a5889ef4f54d20ede7c9df5d7b9f95029", "66359bfc4b28b17d22ff8314b48d4ac8155f090adee996d9"},
}

// exporterOutput is the profile vectors' stand-in for TLS-Exporter.
func exporterOutput(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// profileContexts builds the client and server contexts of the vectors:
// client CID 01, server CID 0a0b0c0d (profile 4.3).
func profileContexts(t *testing.T, s profileSuite) (client, server *Context) {
	t.Helper()
	km := exporterOutput(2 * s.keyLen)
	base := Params{AEAD: s.alg, HKDF: s.hkdf, MasterSecret: km[:s.keyLen], MasterSalt: km[s.keyLen:]}
	cp, sp := base, base
	cp.SenderID, cp.RecipientID = h("0a0b0c0d"), h("01")
	sp.SenderID, sp.RecipientID = h("01"), h("0a0b0c0d")
	var err error
	if client, err = NewContext(cp); err != nil {
		t.Fatal(err)
	}
	if server, err = NewContext(sp); err != nil {
		t.Fatal(err)
	}
	return client, server
}

func TestProfileVectorsOSCORE(t *testing.T) {
	for _, s := range profileSuites {
		t.Run(s.name, func(t *testing.T) {
			cl, sv := profileContexts(t, s)
			eq(t, "client Sender Key", cl.SenderKey, h(s.senderKey))
			eq(t, "client Recipient Key", cl.RecipientKey, h(s.recipientKey))
			eq(t, "Common IV", cl.CommonIV, h(s.commonIV))

			req, _ := http.NewRequest(http.MethodPost, "https://registrar.example/echo", nil)
			req.Header.Set("Content-Type", "text/plain;charset=utf-8")
			msg, err := RequestToMessage(req, []byte("hello"))
			if err != nil {
				t.Fatal(err)
			}
			plaintext := msg.Marshal()
			eq(t, "OSCORE plaintext", plaintext, h("02b46563686f10ff68656c6c6f"))
			opt, ct, st, err := cl.ProtectRequest(plaintext)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "option", opt, h("09000a0b0c0d"))
			if EncodeHeader(opt) != "CQAKCwwN" {
				t.Errorf("header %q", EncodeHeader(opt))
			}
			eq(t, "nonce", st.Nonce, h(s.nonce))
			eq(t, "AAD", oscoreAAD(s.alg, st.KID, st.PIV), h(s.aad))
			eq(t, "request ciphertext", ct, h(s.requestCT))

			// The server's side of the same exchange.
			parsedOpt, err := DecodeHeader("CQAKCwwN")
			if err != nil {
				t.Fatal(err)
			}
			o, _ := ParseOption(parsedOpt)
			pt, sst, err := sv.UnprotectRequest(o, h(s.requestCT))
			if err != nil {
				t.Fatal(err)
			}
			inner, err := UnmarshalMessage(pt)
			if err != nil {
				t.Fatal(err)
			}
			r, err := MessageToRequest(context.Background(), inner, "registrar.example")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			if r.Method != "POST" || r.URL.Path != "/echo" || string(body) != "hello" || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("inner request %s %s %q %q", r.Method, r.URL, body, r.Header.Get("Content-Type"))
			}
			resp := ResponseToMessage(http.MethodPost, 200, http.Header{"Content-Type": {"text/plain"}}, []byte("hello"))
			eq(t, "response plaintext", resp.Marshal(), h("44c0ff68656c6c6f"))
			ropt, rct := sv.ProtectResponse(sst, resp.Marshal())
			if EncodeHeader(ropt) != "AA" {
				t.Errorf("response header %q", EncodeHeader(ropt))
			}
			eq(t, "response ciphertext", rct, h(s.responseCT))
			rpt, err := cl.UnprotectResponse(st, ropt, rct)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "client response plaintext", rpt, h("44c0ff68656c6c6f"))
		})
	}
}

// The COSE vectors exist for TLS_AES_128_GCM_SHA256.
func TestProfileVectorsCOSE(t *testing.T) {
	s := profileSuites[0]
	cl, sv := profileContexts(t, s)
	reqPT := []byte("POST /echo HTTP/1.1\r\nHost: registrar.example\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
	wantReq := h("d08343a10101a204440a0b0c0d0641005872d2c9c5bcde3e2054dc61e1c1b0b601b73724f5d3c2d13ac7ba0d83" +
		"b8d6f38f79f02769498556b6f4ca40db32c593b71a098482c06340430684530fa99c286b38e8ed485d1e69d3a9" +
		"8259dd1d9b6b34ada18a86b20a439afe477163bf2853bcd6c294aa63588369e38b99b4544ca728bb5584")
	respPT := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
	wantResp := h("d08343a10101a10441015855ed21263e597a795b5a5e13ec5f9b69038297d003f20e2b7d977c43ebf0f6200375" +
		"6a1c7f80698e11a9629092a0887d9087871f79eb7f00867ce0a72eb115bb584f3078140ec3a89b08bd11e2b3c2" +
		"80d6d27d4d13da")
	eq(t, "protected", protectedAlg(A128GCM), h("a10101"))
	eq(t, "COSE AAD", coseAAD(h("a10101"), A128GCM, h("0a0b0c0d"), h("00")), h("8368456e63727970743043a101014a840101440a0b0c0d4100"))

	obj, st, err := cl.SealRequest(reqPT)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "COSE request", obj, wantReq)
	e, err := ParseEncrypt0(wantReq)
	if err != nil {
		t.Fatal(err)
	}
	pt, sst, err := sv.OpenRequest(e)
	if err != nil || !bytes.Equal(pt, reqPT) {
		t.Fatalf("server open: %q %v", pt, err)
	}
	eq(t, "COSE response", sv.SealResponse(sst, respPT), wantResp)
	got, err := cl.OpenResponse(st, wantResp)
	if err != nil || !bytes.Equal(got, respPT) {
		t.Fatalf("client open: %q %v", got, err)
	}
}

// TestEmptyClientCID covers the profile's note: an empty client CID must
// encode as h” in the KDF info, never as null.
func TestEmptyClientCID(t *testing.T) {
	eq(t, "info", kdfInfo(nil, nil, A128GCM, "Key", 16), h("8540f601634b657910"))
	km := exporterOutput(32)
	cl, err := NewContext(Params{AEAD: A128GCM, MasterSecret: km[:16], MasterSalt: km[16:], SenderID: h("0a0b0c0d"), RecipientID: nil})
	if err != nil {
		t.Fatal(err)
	}
	sv, err := NewContext(Params{AEAD: A128GCM, MasterSecret: km[:16], MasterSalt: km[16:], SenderID: []byte{}, RecipientID: h("0a0b0c0d")})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "keys agree", cl.RecipientKey, sv.SenderKey)
	opt, ct, st, _ := cl.ProtectRequest([]byte{0x01})
	o, _ := ParseOption(opt)
	pt, sst, err := sv.UnprotectRequest(o, ct)
	if err != nil || !bytes.Equal(pt, []byte{1}) {
		t.Fatal(err)
	}
	ropt, rct := sv.ProtectResponse(sst, []byte{0x45})
	if _, err := cl.UnprotectResponse(st, ropt, rct); err != nil {
		t.Fatal(err)
	}
	obj := sv.SealResponse(sst, []byte("x"))
	e, err := ParseEncrypt0(obj)
	if err != nil || e.KID == nil || len(e.KID) != 0 {
		t.Fatalf("empty kid in COSE: %v %v", e, err)
	}
}

// TestCOSEWGExamples reproduces the cose-wg Encrypt0 examples: the AEAD
// over Enc_structure with the example's protected header and external AAD.
func TestCOSEWGExamples(t *testing.T) {
	pt := []byte("This is the content.")
	cases := []struct {
		name                         string
		alg                          Algorithm
		key, iv, protected, ext, aad string
		output                       string
	}{
		{"aes-ccm-enc-01", AESCCM16_64_128, "849B57219DAE48DE646D07DBB533566E", "89F52F65A1C580933B5261A72F", "A1010A", "", "8368456E63727970743043A1010A40",
			"D08343A1010AA1054D89F52F65A1C580933B5261A72F581C6899DA0A132BD2D2B9B10915743EE1F7B92A4680E7C51BDBC1B320EA"},
		{"aes-ccm-enc-02", AESCCM16_128_128, "849B57219DAE48DE646D07DBB533566E", "89F52F65A1C580933B5261A72F", "A101181E", "", "8368456E63727970743044A101181E40",
			"D08344A101181EA1054D89F52F65A1C580933B5261A72F58246899DA0A132BD2D2B9B10915743EE1F7B92A4680903F2C00D37E14D4EBDC7EF2C03CF5A9"},
		{"aes-ccm-enc-05", AESCCM16_64_256, "0F1E2D3C4B5A69788796A5B4C3D2E1F01F2E3D4C5B6A798897A6B5C4D3E2F100", "89F52F65A1C580933B5261A72F", "A1010B", "", "8368456E63727970743043A1010B40",
			"D08343A1010BA1054D89F52F65A1C580933B5261A72F581C28B3BDDFF844A736C5F0EE0F8C691FD0B7ADF9173140CB621DF47C2F"},
		{"aes-gcm-enc-01", A128GCM, "849B57219DAE48DE646D07DBB533566E", "02D1F7E6F26C43D4868D87CE", "A10101", "", "8368456E63727970743043A1010140",
			"D08343A10101A1054C02D1F7E6F26C43D4868D87CE582460973A94BB2898009EE52ECFD9AB1DD25867374B162E2C03568B41F57C3CC16F9166250A"},
		{"enc-pass-02", A128GCM, "849B57219DAE48DE646D07DBB533566E", "02D1F7E6F26C43D4868D87CE", "A10101", "0011bbcc22dd4455dd220099", "8368456E63727970743043A101014C0011BBCC22DD4455DD220099",
			"D08343A10101A1054C02D1F7E6F26C43D4868D87CE582460973A94BB2898009EE52ECFD9AB1DD25867374B1DC3A143880CA2883A5630DA08AE1E6E"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			aad := encStructure(h(c.protected), h(c.ext))
			eq(t, "AAD", aad, h(c.aad))
			aead, err := newAEAD(c.alg, h(c.key))
			if err != nil {
				t.Fatal(err)
			}
			ct := aead.Seal(nil, h(c.iv), pt, aad)
			out := h(c.output)
			if !bytes.HasSuffix(out, ct) {
				t.Fatalf("ciphertext %x is not the tail of %x", ct, out)
			}
			back, err := aead.Open(nil, h(c.iv), ct, aad)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("open: %v", err)
			}
		})
	}
}
