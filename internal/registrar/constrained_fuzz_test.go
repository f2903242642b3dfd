package registrar

import (
	"encoding/hex"
	"encoding/json"
	"testing"
)

// FuzzStatusReportCBOR: any bytes a pledge sends to /vs or /es either are
// refused or become one JSON object, which the JSON resources' reader then
// judges; nothing panics.
func FuzzStatusReportCBOR(f *testing.F) {
	for _, s := range []string{
		"A26776657273696F6E0166737461747573F5",
		"A46776657273696F6E0166737461747573F466726561736F6E7828496E666F726D61746976652068756D616E2D7265616461626C65206572726F72206D6573736167656E726561736F6E2D636F6E74657874A100764164646974696F6E616C20696E666F726D6174696F6E",
		"A2667374617475731B000000000000000166726561736F6EC24101",
		"BF66737461747573F5FF",
		"8201F5",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := statusReportJSON(body)
		if err != nil {
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("rendering %q is not a JSON object: %v", doc, err)
		}
		parseStatusReport(doc)
	})
}

// TestNegotiateContentFormat: Accept as CoAP carries it (one media type)
// and as HTTP may (a list with q values).
func TestNegotiateContentFormat(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   uint32
		ok     bool
	}{
		{"", cfCertsOnly, true},
		{"*/*", cfCertsOnly, true},
		{"application/pkix-cert", cfPKIXCert, true},
		{"application/pkcs7-mime;smime-type=certs-only", cfCertsOnly, true},
		{`application/pkcs7-mime; smime-type="CERTS-ONLY"`, cfCertsOnly, true},
		{"application/multipart-core", cfMultipartCore, true},
		{"application/json", 0, false},
		{"application/pkix-cert;q=0", 0, false},
		{"application/json, application/pkix-cert;q=0.5", cfPKIXCert, true},
		{"application/pkix-cert;q=0, */*", cfCertsOnly, true},
		{"not a media type", 0, false},
	} {
		got, ok := negotiateContentFormat(tc.accept, cfCertsOnly, cfPKIXCert, cfMultipartCore)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Accept %q: %d %v, want %d %v", tc.accept, got, ok, tc.want, tc.ok)
		}
	}
}
