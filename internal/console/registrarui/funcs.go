package registrarui

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"html/template"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// funcs are the registrar pages' template functions.
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
	// list is its arguments as a slice, for ranging over constants.
	"list": func(s ...string) []string { return s },
	// failed reports whether an exchange's outcome is a refusal or error.
	"failed": func(o store.Outcome) bool { return isFailure(string(o)) },
}
