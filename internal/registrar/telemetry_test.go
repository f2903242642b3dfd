package registrar

import (
	"strings"
	"testing"
)

func TestParseStatusReport(t *testing.T) {
	r, canonical, err := parseStatusReport([]byte(`{"Version":1,"STATUS":false,"Reason":"bad voucher","Reason-Context":{"Detail":"x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status || r.Reason != "bad voucher" || r.Version != 1 {
		t.Fatalf("%+v", r)
	}
	if got := string(canonical); !strings.Contains(got, `"reason-context":{"Detail":"x"}`) || strings.Contains(got, "STATUS") || !strings.Contains(got, `"status":false`) {
		t.Fatalf("canonical form %s", got)
	}
	for _, bad := range []string{`[]`, `{}`, `{"status":"yes"}`, `{"status":true,"Status":false}`, `{"version":2,"status":true}`, `not json`} {
		if _, _, err := parseStatusReport([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
