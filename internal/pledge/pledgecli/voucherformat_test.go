package pledgecli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestVoucherFormatFlag: --voucher-format takes cms, jws and cose (any
// case), defaults to cms, and refuses another name with the names it
// takes.
func TestVoucherFormatFlag(t *testing.T) {
	anchor := filepath.Join(t.TempDir(), "anchor.crt")
	if err := os.WriteFile(anchor, selfSigned(t), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want voucher.Format
		err  string
	}{
		{nil, voucher.FormatCMS, ""},
		{[]string{"--voucher-format", "cms"}, voucher.FormatCMS, ""},
		{[]string{"--voucher-format", "jws"}, voucher.FormatJWS, ""},
		{[]string{"--voucher-format=COSE"}, voucher.FormatCOSE, ""},
		{[]string{"--voucher-format", "json"}, 0, `--voucher-format: "json" is not cms, jws or cose`},
		{[]string{"--voucher-format", ""}, voucher.FormatCMS, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var f Flags
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			f.Register(fs, true)
			if err := fs.Parse(append([]string{"--registrar-url", "https://lb.example", "--manufacturer-anchor", anchor}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			cfg, err := f.BaseConfig()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || cfg.VoucherFormat != tc.want {
				t.Fatalf("format %v (%v), want %v", cfg.VoucherFormat, err, tc.want)
			}
		})
	}
}
