package masaui

import (
	"encoding/json"
	"encoding/pem"
	"html/template"
	"time"
)

// funcs are the MASA pages' own template functions (beside web's:
// path, when, subject, fingerprint, list).
var funcs = template.FuncMap{
	// certPEM is a DER certificate as PEM, for copying.
	"certPEM": func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	},
	// detail is an audit event's detail as compact JSON.
	"detail": func(d map[string]any) string {
		if len(d) == 0 {
			return ""
		}
		b, err := json.Marshal(d)
		if err != nil {
			return "(unprintable)"
		}
		return string(b)
	},
	// deref is a pointer's string, "" for nil (a voucher's nonce).
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	// lifetime is a policy's nonceless voucher lifetime.
	"lifetime": func(d time.Duration) string {
		if d <= 0 {
			return "none"
		}
		return d.String()
	},
}
