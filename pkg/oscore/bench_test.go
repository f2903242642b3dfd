package oscore

import (
	"fmt"
	"testing"
)

// BenchmarkProtect compares a full OSCORE request round (client protects,
// server unprotects) with the raw AEAD Seal+Open of the same payload under
// the same algorithm, in the same run. BENCHMARKS.md records the ratio.
func BenchmarkProtect(b *testing.B) {
	km := exporterOutput(32)
	cl, _ := NewContext(Params{AEAD: A128GCM, MasterSecret: km[:16], MasterSalt: km[16:], SenderID: h("0a0b0c0d"), RecipientID: h("01")})
	sv, _ := NewContext(Params{AEAD: A128GCM, MasterSecret: km[:16], MasterSalt: km[16:], SenderID: h("01"), RecipientID: h("0a0b0c0d")})
	for _, size := range []int{256, 4096} {
		payload := make([]byte, size)
		b.Run(fmt.Sprintf("raw-aead/%d", size), func(b *testing.B) {
			aead := cl.sender
			nonce := make([]byte, 12)
			aad := oscoreAAD(A128GCM, cl.SenderID, []byte{0})
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				ct := aead.Seal(nil, nonce, payload, aad)
				if _, err := sv.recipient.Open(nil, nonce, ct, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("oscore/%d", size), func(b *testing.B) {
			msg := &Message{Code: POST, Payload: payload}
			msg.Add(OptUriPath, []byte("est"))
			msg.Add(OptUriPath, []byte("simpleenroll"))
			msg.AddUint(OptContentFormat, 286)
			plaintext := msg.Marshal()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				opt, ct, _, err := cl.ProtectRequest(plaintext)
				if err != nil {
					b.Fatal(err)
				}
				o, err := ParseOption(opt)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := sv.UnprotectRequest(o, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("cose/%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				obj, _, err := cl.SealRequest(payload)
				if err != nil {
					b.Fatal(err)
				}
				e, err := ParseEncrypt0(obj)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := sv.OpenRequest(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
