package registrar

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// TestMASAClientFormats: the client sends the request's media type as
// Content-Type and the voucher format asked for as Accept, and takes a 200
// only of that format's media type; any other is a 502 refusal, not
// retried.
func TestMASAClientFormats(t *testing.T) {
	var gotType, gotAccept, answerType string
	calls := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		gotType, gotAccept = r.Header.Get("Content-Type"), r.Header.Get("Accept")
		if answerType != "" {
			w.Header().Set("Content-Type", answerType)
		}
		w.Write([]byte("voucher bytes"))
	}))
	defer srv.Close()
	c := &MASAClient{Attempts: 3}
	for _, tc := range []struct {
		name       string
		f, answer  voucher.Format
		answerType string
		ok         bool
	}{
		{"CMS", voucher.FormatCMS, voucher.FormatCMS, voucher.MediaTypeVoucherCMS, true},
		{"JWS", voucher.FormatJWS, voucher.FormatJWS, voucher.MediaTypeVoucherJWS, true},
		{"COSE with a parameter", voucher.FormatCOSE, voucher.FormatCOSE, voucher.MediaTypeVoucherCOSE + "; charset=binary", true},
		{"JWS request, COSE voucher", voucher.FormatJWS, voucher.FormatCOSE, voucher.MediaTypeVoucherCOSE, true},
		{"asked JWS, answered CMS", voucher.FormatJWS, voucher.FormatJWS, voucher.MediaTypeVoucherCMS, false},
		{"answered without Content-Type", voucher.FormatCOSE, voucher.FormatCOSE, "", false},
		{"answered text", voucher.FormatCMS, voucher.FormatCMS, "text/plain", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answerType, calls = tc.answerType, 0
			got, err := c.RequestVoucher(context.Background(), srv.URL, srv.Certificate(), []byte("rvr"), tc.f, tc.answer)
			if gotType != tc.f.MediaType() || gotAccept != tc.answer.MediaType() {
				t.Fatalf("sent Content-Type %q Accept %q", gotType, gotAccept)
			}
			if tc.ok {
				if err != nil || string(got) != "voucher bytes" {
					t.Fatalf("%q, %v", got, err)
				}
				return
			}
			var me *masaError
			if !errors.As(err, &me) || me.status != http.StatusBadGateway || got != nil || calls != 1 {
				t.Fatalf("answer of the wrong type: %q, %v, after %d attempts", got, err, calls)
			}
		})
	}
}
