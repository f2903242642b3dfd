package registrarui

import (
	"html/template"

	"github.com/landfall-io/landfall/internal/registrar/store"
)

// funcs are the registrar pages' own template functions (beside web's:
// path, when, subject, fingerprint, list).
var funcs = template.FuncMap{
	// failed reports whether an exchange's outcome is a refusal or error.
	"failed": func(o store.Outcome) bool { return isFailure(string(o)) },
}
