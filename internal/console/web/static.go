package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// HTMXVersion and HTMXSHA256 pin the vendored htmx: static/htmx.min.js is
// dist/htmx.min.js of the npm package htmx.org at this version (BSD
// Zero-Clause licence, static/htmx.LICENSE), fetched with
// `npm pack htmx.org@2.0.11`; a test checks the digest.
const (
	HTMXVersion = "2.0.11"
	HTMXSHA256  = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
)

//go:embed static/htmx.min.js static/console.css
var staticFS embed.FS

// staticHandler serves the embedded files, cacheable for a day (their
// names change with their version only through a restart, so not longer).
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fsrv.ServeHTTP(w, r)
	})
}
