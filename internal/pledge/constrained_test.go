package pledge

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestStatusReportCBOR: the pledge's telemetry is byte for byte the
// constrained-voucher draft's enrollstatus examples (appendix "cBRSKI
// Message Examples"): keys in the CDDL's order, version, status, reason.
func TestStatusReportCBOR(t *testing.T) {
	for _, tc := range []struct {
		status bool
		reason string
		want   string
	}{
		{true, "", "A26776657273696F6E0166737461747573F5"},
		{false, "<Informative human readable error message>", "A36776657273696F6E0166737461747573F466726561736F6E782A3C496E666F726D61746976652068756D616E207265616461626C65206572726F72206D6573736167653E"},
	} {
		got, err := encodeStatusReport(tc.status, tc.reason)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := hex.DecodeString(tc.want); string(got) != string(want) {
			t.Errorf("report (%v, %q) = %X, want %s", tc.status, tc.reason, got, tc.want)
		}
	}
}

// TestConstrainedConfigRefused: the constrained flow runs only where the
// inner requests are CoAP, and only with COSE vouchers; both are refused
// before any connection (no registrar is reachable at the URL).
func TestConstrainedConfigRefused(t *testing.T) {
	idevid, _, _ := testCert(t, "CONSTRAINED-1", nil, nil)
	for _, tc := range []struct {
		name   string
		mode   string
		format voucher.Format
		want   string
	}{
		{"direct", ModeDirect, voucher.FormatCOSE, "runs in atls-oscore, coap-oscore, not in direct mode"},
		{"atls-cose", ModeATLSCOSE, voucher.FormatCOSE, "not in atls-cose mode"},
		{"atls-records", ModeATLSRecords, voucher.FormatCMS, "not in atls-records mode"},
		{"JWS", ModeATLSOSCORE, voucher.FormatJWS, "sends COSE voucher-requests (Content-Format 836), not jws"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Onboard(context.Background(), Config{RegistrarURL: "https://127.0.0.1:1", Mode: tc.mode, IDevID: idevid, VoucherFormat: tc.format, Constrained: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
