package web

import (
	"net/http"
	"strings"
)

// signinPage: GET /signin, the form that exchanges an admin token for a
// session. A visitor without a session gets an anonymous one, which binds
// the form's CSRF token (a forged sign-in is refused like any change).
func (c *Console[P]) signinPage(w http.ResponseWriter, r *http.Request) error {
	s, err := c.readSession(r)
	if err == nil && s.Token != "" {
		if _, err := c.resolve(r.Context(), s.Token); err == nil {
			return c.Redirect(w, r, "/")
		}
	}
	if err != nil || s.Token != "" {
		if s, err = c.newSession(w, r, ""); err != nil {
			return err
		}
	}
	return c.renderSignin(w, r, s, http.StatusOK, "")
}

func (c *Console[P]) renderSignin(w http.ResponseWriter, r *http.Request, s session, status int, problem string) error {
	v := View{Console: c.cfg.Title, Title: "Sign in", Base: c.cfg.Base, CSRF: c.csrfToken(s), Data: problem, url: r.URL}
	return c.render(w, r, Page{Name: "web:signin", Status: status}, v)
}

// signin: POST /signin token=...: a token the service resolves starts a
// new session (a new ID, so a new CSRF token); any other is a 401 and the
// form again.
func (c *Console[P]) signin(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxBody)
	s, err := c.readSession(r)
	if err != nil {
		return errorf(http.StatusForbidden, "missing or wrong CSRF token; reload the sign-in page and try again")
	}
	if err := c.checkCSRF(r, s); err != nil {
		return err
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		return c.renderSignin(w, r, s, http.StatusBadRequest, "an admin token is required")
	}
	if _, err := c.resolve(r.Context(), token); err != nil {
		p := c.rd.ProblemOf(err)
		if p.Status != http.StatusUnauthorized {
			return err
		}
		c.cfg.Log.Info("console sign-in refused", "reason", p.Detail)
		return c.renderSignin(w, r, s, http.StatusUnauthorized, p.Detail)
	}
	if _, err := c.newSession(w, r, token); err != nil {
		return err
	}
	return c.Redirect(w, r, "/")
}

// signout: POST /signout ends the session (its cookie is deleted; a copy
// kept elsewhere expires with SessionTTL, or at once when the token is
// revoked).
func (c *Console[P]) signout(w http.ResponseWriter, r *http.Request) error {
	c.clearSession(w, r)
	return c.Redirect(w, r, "/signin")
}
