package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// session is what the console's cookie carries. It is sealed (AES-256-GCM
// under a key derived from Config.Key), so it needs no table: any replica
// that shares the key opens it. The admin token travels inside it and is
// resolved again on every request, so that revoking the token, or changing
// its role, takes effect at once, as it does in the admin API.
type session struct {
	// Token is the admin token signed in with; empty before sign-in (the
	// anonymous session that carries the sign-in form's CSRF binding).
	Token string `json:"t,omitempty"`
	// ID is random per session: the CSRF token is bound to it, and a
	// sign-in replaces it (no session fixation).
	ID      []byte `json:"i"`
	Expires int64  `json:"e"` // Unix seconds
}

var errNoSession = errors.New("no valid console session")

// sealer seals and opens cookies under one AEAD; the cookie's name is the
// additional data, so a value cannot move between cookies.
type sealer struct{ aead cipher.AEAD }

// deriveKey is HKDF-SHA256 (RFC 5869) of the configured secret for one
// purpose, so that the console's keys are unrelated to whatever else the
// secret keys.
func deriveKey(secret []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, "landfall console "+purpose, 32)
}

func newSealer(secret []byte) (*sealer, error) {
	k, err := deriveKey(secret, "cookie seal")
	if err != nil {
		return nil, err
	}
	blk, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

func (s *sealer) open(name, value string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < s.aead.NonceSize() {
		return errNoSession
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return errNoSession
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%w: %v", errNoSession, err)
	}
	return nil
}

// cookieName is the session cookie's name: with the __Host- prefix over
// TLS (RFC 6265bis 4.1.3.2: Secure, Path=/, no Domain), so that a sibling
// host cannot plant one.
func cookieName(secure bool, base string) string {
	if secure {
		return "__Host-" + base
	}
	return base
}

// isTLS reports whether the browser reached the console over TLS: the
// connection itself, or a trusted front that said so.
func (c *core) isTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return c.cfg.TrustForwardedProto && r.Header.Get("X-Forwarded-Proto") == "https"
}

// readSession opens the request's session cookie; an absent, forged,
// stale or expired one is errNoSession.
func (c *core) readSession(r *http.Request) (session, error) {
	name := cookieName(c.isTLS(r), c.cfg.Cookie)
	ck, err := r.Cookie(name)
	if err != nil {
		return session{}, errNoSession
	}
	var s session
	if err := c.seal.open(name, ck.Value, &s); err != nil {
		return session{}, err
	}
	if len(s.ID) != 16 || time.Unix(s.Expires, 0).Before(c.cfg.Now()) {
		return session{}, errNoSession
	}
	return s, nil
}

// newSession makes a session for token ("" before sign-in) with a fresh
// ID, and sets its cookie.
func (c *core) newSession(w http.ResponseWriter, r *http.Request, token string) (session, error) {
	s := session{Token: token, ID: make([]byte, 16), Expires: c.cfg.Now().Add(c.cfg.SessionTTL).Unix()}
	rand.Read(s.ID)
	name := cookieName(c.isTLS(r), c.cfg.Cookie)
	v, err := c.seal.seal(name, s)
	if err != nil {
		return s, err
	}
	http.SetCookie(w, c.cookie(r, name, v, c.cfg.SessionTTL))
	return s, nil
}

// clearSession deletes the session cookie.
func (c *core) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, c.cookie(r, cookieName(c.isTLS(r), c.cfg.Cookie), "", -1))
}

// cookie is a console cookie: HttpOnly, SameSite=Strict, Secure over TLS,
// Path=/ (the __Host- prefix requires it).
func (c *core) cookie(r *http.Request, name, value string, ttl time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.isTLS(r), SameSite: http.SameSiteStrictMode}
	if ttl < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(ttl / time.Second)
	}
	return ck
}

// flash is a one-shot notice shown on the next page (post/redirect/get).
type flash struct {
	Text    string `json:"m"`
	Expires int64  `json:"e"`
}

// Flash sets a notice that the next page rendered shows once, for
// handlers that redirect after a change.
func (c *core) Flash(w http.ResponseWriter, r *http.Request, text string) {
	name := cookieName(c.isTLS(r), c.cfg.Cookie+"-flash")
	v, err := c.seal.seal(name, flash{Text: text, Expires: c.cfg.Now().Add(time.Minute).Unix()})
	if err == nil {
		http.SetCookie(w, c.cookie(r, name, v, time.Minute))
	}
}

// takeFlash returns the pending notice, if any, and clears it.
func (c *core) takeFlash(w http.ResponseWriter, r *http.Request) string {
	name := cookieName(c.isTLS(r), c.cfg.Cookie+"-flash")
	ck, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	http.SetCookie(w, c.cookie(r, name, "", -1))
	var f flash
	if c.seal.open(name, ck.Value, &f) != nil || time.Unix(f.Expires, 0).Before(c.cfg.Now()) {
		return ""
	}
	return f.Text
}
