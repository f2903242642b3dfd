package masaui

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"html/template"
	"time"
)

// funcs are the MASA pages' template functions.
var funcs = template.FuncMap{
	// subject is a DER certificate's subject, or why it cannot be read.
	"subject": func(der []byte) string {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return "(unreadable certificate)"
		}
		return c.Subject.String()
	},
	// fingerprint is the SHA-256 of DER, abbreviated.
	"fingerprint": func(der []byte) string {
		if len(der) == 0 {
			return ""
		}
		sum := sha256.Sum256(der)
		return hex.EncodeToString(sum[:8])
	},
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
	// list is its arguments as a slice, for ranging over constants.
	"list": func(s ...string) []string { return s },
}
