package voucher_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

func mustCert(name string) *x509.Certificate {
	b, _ := os.ReadFile(name)
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		panic(err)
	}
	return c
}

// A pledge accepts the RFC 8995 Appendix C voucher and learns the domain
// certificate to trust.
func ExampleCheckVoucher() {
	b64, _ := os.ReadFile("testdata/rfc8995-appendix-c/voucher_00-D0-E5-F2-00-02.b64")
	cms, _ := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b64)), ""))

	anchors := x509.NewCertPool()
	anchors.AddCert(mustCert("testdata/rfc8995-appendix-c/vendor.crt"))
	check := voucher.VoucherCheck{
		ManufacturerRoots: anchors,
		MASACerts:         []*x509.Certificate{mustCert("testdata/rfc8995-appendix-c/masa.crt")},
		SerialNumber:      "00-D0-E5-F2-00-02",
		Nonce:             "-_XE9zK9q8Ll1qylMtLKeg",
		At:                time.Date(2021, 5, 1, 0, 0, 0, 0, time.UTC),
	}
	av, err := voucher.CheckVoucher(cms, check)
	if err != nil {
		panic(err)
	}
	fmt.Println(av.Voucher.Assertion, av.PinnedDomainCert.Subject.CommonName)

	check.Nonce = "another"
	_, err = voucher.CheckVoucher(cms, check)
	var e *voucher.Error
	fmt.Println(errors.Is(err, voucher.ErrNonceMismatch), errors.As(err, &e) && e.Status == 403)
	// Output:
	// logged fountain-test.example.com
	// true true
}
