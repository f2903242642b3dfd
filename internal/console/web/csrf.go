package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
)

// CSRF defence: a synchronizer token bound to the session (OWASP's
// "synchronizer token pattern"). The token is an HMAC of the session's
// random ID under a key derived from Config.Key, so it needs no storage,
// changes with every sign-in, and a page of another site can neither read
// it nor compute it. Every form carries it in the field CSRFField; htmx
// requests carry it in the header CSRFHeader (the layout sets hx-headers).
// SameSite=Strict cookies and the Origin check below are a second line.
const (
	CSRFField  = "csrf"
	CSRFHeader = "X-CSRF-Token"
)

func (c *core) csrfToken(s session) string {
	m := hmac.New(sha256.New, c.csrfKey)
	m.Write(s.ID)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// safeMethod reports whether a method changes nothing (RFC 9110 9.2.1),
// so needs no CSRF token.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF refuses (403) an unsafe request whose token is missing or not
// the session's, or whose Origin names another site. It reads the form,
// so the body must already be capped.
func (c *core) checkCSRF(r *http.Request, s session) error {
	if safeMethod(r.Method) {
		return nil
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errorf(http.StatusForbidden, "cross-origin request refused (Origin %s)", o)
		}
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		if err := parseForm(r, c.cfg.MaxBody); err != nil {
			return err
		}
		got = r.PostFormValue(CSRFField)
	}
	if got == "" || !hmac.Equal([]byte(got), []byte(c.csrfToken(s))) {
		return errorf(http.StatusForbidden, "missing or wrong CSRF token; reload the page and try again")
	}
	return nil
}

// parseForm reads a urlencoded or multipart body once (the body is already
// capped by MaxBody); a body that is neither is left unread.
func parseForm(r *http.Request, max int64) error {
	if r.PostForm != nil && (r.MultipartForm != nil || mediaType(r) != "multipart/form-data") {
		return nil
	}
	var err error
	if mt := mediaType(r); mt == "multipart/form-data" {
		err = r.ParseMultipartForm(max)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return badBody(err)
	}
	return nil
}
