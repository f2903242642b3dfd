package registrar

import (
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// RFC 8995 5.8.1 Figure 13, the example audit log, as the RFC's source
// (anima-wg/anima-bootstrap, example-auditlog.json) writes it: its numbers
// are strings.
const rfc8995AuditLog = `{
  "version":"1",
  "events":[
    {
        "date":"2019-05-15T17:25:55.644-04:00",
        "domainID":"BduJhdHPpfhQLyponf48JzXSGZ8=",
        "nonce":"VOUFT-WwrEv0NuAQEHoV7Q",
        "assertion":"proximity",
        "truncated":"0"
    },
    {
        "date":"2017-05-15T17:25:55.644-04:00",
        "domainID":"BduJhdHPpfhQLyponf48JzXSGZ8=",
        "nonce":"f4G6Vi1t8nKo/FieCVgpBg==",
        "assertion":"proximity"
    }
  ],
    "truncation": {
        "nonced duplicates": "0",
        "nonceless duplicates": "1",
        "arbitrary": "2"
     }
}`

// As Landfall's MASA writes it (internal/masa.AuditLog): numbers, and a
// nonceless voucher's nonce null.
const landfallAuditLog = `{"version":1,"events":[
 {"date":"2026-01-01T00:00:00.000Z","domainID":"T1dO","nonce":"n-1","assertion":"proximity"},
 {"date":"2026-01-02T00:00:00.000Z","domainID":"T1dO","nonce":null,"assertion":"logged"},
 {"date":"2026-01-03T00:00:00.000Z","domainID":"UHJpb3I=","nonce":"n-2","assertion":"proximity"}],
 "truncation":{"nonced duplicates":0,"nonceless duplicates":0,"arbitrary":0}}`

func TestJudgeAuditLog(t *testing.T) {
	own := map[string]bool{"BduJhdHPpfhQLyponf48JzXSGZ8=": true, "T1dO": true}
	kinds := func(fs []store.AuditFinding) string {
		var k []string
		for _, f := range fs {
			k = append(k, f.Kind)
		}
		return strings.Join(k, ",")
	}
	for _, tt := range []struct {
		name     string
		log      string
		own      map[string]bool
		policy   AuditLogPolicy
		vouchers int64
		want     string // finding kinds
		detail   string // in the findings
	}{
		{"RFC example, our domain", rfc8995AuditLog, own, AuditLogPolicy{}, 5, "nonceless", "1 nonceless"},
		{"RFC example, nonceless allowed", rfc8995AuditLog, own, AuditLogPolicy{AllowNonceless: true}, 5, "", ""},
		{"RFC example, another registrar's view", rfc8995AuditLog, map[string]bool{"T1dO": true}, AuditLogPolicy{AllowNonceless: true}, 5, "prior-owner", "2 voucher(s) for domainID BduJhdHPpfhQLyponf48JzXSGZ8="},
		{"RFC example, that domain allowed", rfc8995AuditLog, map[string]bool{}, AuditLogPolicy{AllowNonceless: true, AllowedDomainIDs: []string{"BduJhdHPpfhQLyponf48JzXSGZ8="}}, 5, "", ""},
		{"RFC example, at most 4 vouchers", rfc8995AuditLog, own, AuditLogPolicy{AllowNonceless: true, MaxVouchers: 4}, 5, "too-many", "5 vouchers issued, more than 4"},
		{"RFC example, at most 5 vouchers", rfc8995AuditLog, own, AuditLogPolicy{AllowNonceless: true, MaxVouchers: 5}, 5, "", ""},
		{"Landfall MASA, prior owner and nonceless", landfallAuditLog, own, AuditLogPolicy{}, 3, "prior-owner,nonceless", "1 voucher(s) for domainID UHJpb3I="},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, n, err := parseAuditLog([]byte(tt.log))
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.vouchers {
				t.Errorf("%d vouchers, want %d", n, tt.vouchers)
			}
			fs := judgeAuditLog(log, tt.own, tt.policy)
			if got := kinds(fs); got != tt.want {
				t.Fatalf("findings %q (%+v), want %q", got, fs, tt.want)
			}
			if tt.detail != "" && !strings.Contains(fs[0].Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", fs[0].Detail, tt.detail)
			}
		})
	}
}

// What is not an audit log is an error verdict, not a pass.
func TestParseAuditLogRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":           `<html>`,
		"version 2":          `{"version":2,"events":[]}`,
		"no version":         `{"events":[]}`,
		"no events":          `{"version":1}`,
		"no domainID":        `{"version":1,"events":[{"date":"x","nonce":"n","assertion":"logged"}]}`,
		"nonce a number":     `{"version":1,"events":[{"domainID":"d","nonce":5}]}`,
		"negative count":     `{"version":1,"events":[],"truncation":{"arbitrary":-1}}`,
		"count not a number": `{"version":1,"events":[],"truncation":{"arbitrary":"many"}}`,
	} {
		if _, _, err := parseAuditLog([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAuditLogPolicyValidate(t *testing.T) {
	var p AuditLogPolicy
	if err := p.validate(); err != nil || p.Mode != AuditLogOff {
		t.Fatalf("zero value: %v, %q", err, p.Mode)
	}
	for _, bad := range []AuditLogPolicy{{Mode: "enforcing"}, {Mode: AuditLogWarn, MaxVouchers: -1}} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
