package voucher

import "testing"

func TestNegotiateFormat(t *testing.T) {
	all := Formats
	cases := []struct {
		name   string
		accept string
		req    Format
		offers []Format
		want   Format
		ok     bool
	}{
		{"no Accept: the request's format", "", FormatCOSE, all, FormatCOSE, true},
		{"*/*: the request's format", "*/*", FormatJWS, all, FormatJWS, true},
		{"application/*: the request's format", "application/*", FormatJWS, all, FormatJWS, true},
		{"names the request's format", MediaTypeVoucherJWS, FormatJWS, all, FormatJWS, true},
		{"names another format", MediaTypeVoucherCOSE, FormatCMS, all, FormatCOSE, true},
		{"parameters ignored", "application/voucher+cose; q=0.5", FormatCMS, all, FormatCOSE, true},
		{"first offered of several", "text/plain, application/voucher+cose, application/voucher-jws+json", FormatCMS, all, FormatJWS, true},
		{"q=0 refuses the request's format", "application/voucher-cms+json;q=0, application/voucher+cose", FormatCMS, all, FormatCOSE, true},
		{"nothing offered", "application/json", FormatCMS, all, 0, false},
		{"q=0 only", "application/voucher-cms+json;q=0", FormatCMS, all, 0, false},
		{"request format not offered", "", FormatCOSE, []Format{FormatCMS}, FormatCMS, true},
		{"named format not offered", MediaTypeVoucherCOSE, FormatCMS, []Format{FormatCMS, FormatJWS}, 0, false},
		{"garbage", ";;;", FormatCMS, all, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NegotiateFormat(tc.accept, tc.req, tc.offers)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("NegotiateFormat(%q, %v) = %v, %v; want %v, %v", tc.accept, tc.req, got, ok, tc.want, tc.ok)
			}
		})
	}
	if got := MediaTypes(Formats); got != "application/voucher-cms+json, application/voucher-jws+json, application/voucher+cose" {
		t.Fatalf("MediaTypes: %s", got)
	}
}

// FuzzNegotiateFormat: any Accept header yields a format that is offered,
// or none; an empty one yields the request's own.
func FuzzNegotiateFormat(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/*;q=0", MediaTypeVoucherCOSE + ";q=0.1, text/plain", ",,;", "application/voucher-jws+json; q=abc"} {
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, accept string, req int) {
		r := Format(((req % 3) + 3) % 3)
		offers := []Format{FormatCMS, FormatCOSE}
		got, ok := NegotiateFormat(accept, r, offers)
		if ok && got != FormatCMS && got != FormatCOSE {
			t.Fatalf("NegotiateFormat(%q) = %v, not offered", accept, got)
		}
		if accept == "" && r != FormatJWS && (!ok || got != r) {
			t.Fatalf("empty Accept: %v %v, want %v", got, ok, r)
		}
	})
}
