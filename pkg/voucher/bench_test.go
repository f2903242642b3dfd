package voucher

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"testing"
)

// Sign and verify one voucher per operation, against the bare ECDSA
// signature and verification they wrap (the baseline of the same run).
func BenchmarkVoucher(b *testing.B) {
	for _, cv := range curves {
		p := newPKI(b, cv.curve)
		v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "-_XE9zK9q8Ll1qylMtLKeg", PinnedDomainCert: p.domainCA.Raw}}
		signer := &Signer{Cert: p.masa, Key: p.masaKey}
		der, err := signer.SignVoucher(v)
		if err != nil {
			b.Fatal(err)
		}
		check := p.voucherCheck(v.Nonce)
		js, _ := v.MarshalJSON()
		digest := func() []byte {
			if cv.name == "P-384" {
				s := sha512.Sum384(js)
				return s[:]
			}
			s := sha256.Sum256(js)
			return s[:]
		}
		key := p.masaKey.(*ecdsa.PrivateKey)

		b.Run(cv.name+"/Sign", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signer.SignVoucher(v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(cv.name+"/Verify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CheckVoucher(der, check); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(cv.name+"/BaselineECDSASign", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ecdsa.SignASN1(rand.Reader, key, digest()); err != nil {
					b.Fatal(err)
				}
			}
		})
		sig, _ := ecdsa.SignASN1(rand.Reader, key, digest())
		b.Run(cv.name+"/BaselineECDSAVerify", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !ecdsa.VerifyASN1(&key.PublicKey, digest(), sig) {
					b.Fatal("verify")
				}
			}
		})
	}
}

// The JWS and COSE formats, sign and verify (the role check the pledge
// makes, as BenchmarkVoucher does for CMS), against the same bare ECDSA
// baseline: run together, e.g.
// go test -run '^$' -bench 'BenchmarkVoucher' ./pkg/voucher/.
func BenchmarkVoucherJWS(b *testing.B)  { benchFormat(b, FormatJWS) }
func BenchmarkVoucherCOSE(b *testing.B) { benchFormat(b, FormatCOSE) }

func benchFormat(b *testing.B, f Format) {
	for _, cv := range curves {
		p := newPKI(b, cv.curve)
		v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "-_XE9zK9q8Ll1qylMtLKeg", PinnedDomainCert: p.domainCA.Raw}}
		signer := &Signer{Cert: p.masa, Key: p.masaKey}
		signed, err := signer.SignVoucherAs(f, v)
		if err != nil {
			b.Fatal(err)
		}
		check := p.voucherCheck(v.Nonce)
		check.Format = f
		b.Run(cv.name+"/Sign", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signer.SignVoucherAs(f, v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(cv.name+"/Verify", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(signed)))
			for b.Loop() {
				if _, err := CheckVoucher(signed, check); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
