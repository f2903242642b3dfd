package pledgecli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestConstrainedFlag: --constrained is a flag of every device command,
// runs in atls-oscore only, implies COSE, and refuses a contradicting
// --voucher-format.
func TestConstrainedFlag(t *testing.T) {
	anchor := filepath.Join(t.TempDir(), "anchor.crt")
	if err := os.WriteFile(anchor, selfSigned(t), 0o600); err != nil {
		t.Fatal(err)
	}
	parse := func(args ...string) (*Flags, error) {
		var f Flags
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		f.Register(fs, false)
		return &f, fs.Parse(append([]string{"--registrar-url", "https://lb.example", "--manufacturer-anchor", anchor}, args...))
	}
	for _, tc := range []struct {
		args []string
		want string // error substring; "" for success
	}{
		{[]string{"--constrained"}, ""},
		{[]string{"--constrained", "--voucher-format", "cose"}, ""},
		{[]string{"--constrained", "--mode", "direct"}, "--constrained runs in --mode atls-oscore, coap-oscore, not direct"},
		{[]string{"--constrained", "--mode", "atls-cose"}, "not atls-cose"},
		{[]string{"--constrained", "--voucher-format", "jws"}, "--voucher-format jws contradicts it"},
		{[]string{"--mode", "coap-oscore"}, ""}, // implies --constrained
		{[]string{"--mode", "coap-oscore", "--voucher-format", "cms"}, ""},
		{[]string{"--mode", "coap-oscore", "--voucher-format", "jws"}, "--voucher-format jws contradicts it"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f, err := parse(tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := f.BaseConfig()
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || !cfg.Constrained || cfg.VoucherFormat != voucher.FormatCOSE {
				t.Fatalf("config %+v (%v)", cfg, err)
			}
		})
	}
	f, _ := parse()
	if cfg, err := f.BaseConfig(); err != nil || cfg.Constrained {
		t.Fatalf("without the flag: %+v (%v)", cfg, err)
	}
}
