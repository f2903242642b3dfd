// Package web is the framework of Landfall's operator consoles (the
// registrar's, internal/console/registrarui, and the MASA's): pages
// rendered on the server with html/template and made lively with htmx,
// served by the service's own binary on its admin listener, with nothing
// to build at run time.
//
// Why html/template and not a-h/templ: it is the standard library, needs
// no code generation step (templ compiles .templ files to Go, a step every
// contributor and CI would have to run and keep in sync), and its
// contextual escaping is what a console that shows device-supplied strings
// (serial numbers, subjects) needs. htmx 2 is vendored from its npm
// package at a pinned version (static.go: HTMXVersion, HTMXSHA256) and
// embedded with go:embed.
//
// A service builds a console from a Config:
//
//	c, err := web.New(web.Config[store.Principal]{
//		Title: "Landfall registrar", Base: "/console", Key: secret,
//		Resolve:  st.Authenticate,           // the admin API's token lookup
//		Describe: func(p Principal) web.Viewer { ... },
//		Allows:   func(p Principal, need string) bool { ... },
//		Nav: []web.NavItem{{Label: "Pledges", Path: "/pledges"}},
//		Pages: pagesFS,                      // *.html, each defining "content"
//	})
//	h := c.Handler(func(r chi.Router) {
//		r.Get("/pledges", c.Handle(listPledges))
//		r.With(c.Require("operator")).Post("/pledges/{id}/approve", c.Handle(approve))
//	})
//	mux.Handle("/console/", h)
//
// and its handlers answer with c.Render(w, r, web.Page{Name: "pledges",
// Title: "...", Data: d}), c.Redirect after a change (with c.Flash for a
// notice), or return an error, which c.Handle renders as an error page with
// the status and reason the admin API would give (Config.Classify, then
// adminapi.Renderer.ProblemOf); web.Errorf makes one. A handler that reads
// a form calls c.ParseForm first; c.Principal is who is signed in (its
// actor for audit events).
//
// What it enforces for every console:
//   - Sign-in exchanges an admin token for a session cookie: HttpOnly,
//     SameSite=Strict, Secure with the __Host- prefix when served over TLS.
//     The session is stateless: the cookie is sealed with AES-256-GCM under
//     a key derived (HKDF-SHA256) from Config.Key, so that every replica
//     sharing the key serves it without a sessions table, and it carries
//     the token itself, resolved again on every request, so that revoking
//     the token or changing its role takes effect at once. Sign-out deletes
//     the cookie.
//   - CSRF: every request other than GET, HEAD and OPTIONS, sign-in
//     included, must carry the session's synchronizer token (an HMAC of the
//     session's random ID) in the form field "csrf" or the header
//     X-CSRF-Token, and no foreign Origin; otherwise 403.
//   - Roles: the service's Allows decides; View.Can hides controls,
//     Console.Require refuses the request itself (403), so a forged
//     request from a lesser role changes nothing.
//   - Headers: a strict Content-Security-Policy (ContentSecurityPolicy: no
//     inline script or style, no eval; htmx is configured not to inject its
//     indicator styles), nosniff, no framing, no referrer, no caching of
//     pages.
//   - Every request body is capped (Config.MaxBody).
//
// Templates: the layout ("layout") wraps each page's "content"; the
// partials "pager" (a keyset page's next link, from .Data.Next and
// View.PageURL) and "csrf" (the hidden field), the View methods Can,
// PageURL and Self (the current URL, for an element that refreshes itself
// with hx-get and hx-select), and the functions path (a path under Base,
// with escaped segments), when (a UTC time), subject and fingerprint (of a
// DER certificate) and list are available to every page.
// BarChart draws a stacked bar chart as SVG on the server.
//
// It is not an admin API: it calls the service's own store and service
// functions, the same ones the admin API's handlers call.
package web
