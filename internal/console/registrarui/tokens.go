package registrarui

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/registrar/admin"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// tokensView is the tokens page; Created is set once, on the answer to
// the form that made it (the only time a secret is shown).
type tokensView struct {
	Items   []store.Token
	Created *admin.CreatedToken
}

// tokens: GET /tokens (admin), never their secrets.
func (u *ui) tokens(w http.ResponseWriter, r *http.Request) error {
	return u.renderTokens(w, r, nil)
}

func (u *ui) renderTokens(w http.ResponseWriter, r *http.Request, created *admin.CreatedToken) error {
	ts, err := u.s.ListTokens(r.Context())
	if err != nil {
		return err
	}
	return u.c.Render(w, r, web.Page{Name: "tokens", Title: "Admin tokens", Data: tokensView{Items: ts, Created: created}})
}

// createToken: POST /tokens name=&role= (admin), admin.CreateToken as POST
// /api/v1/tokens. The answer is the page with the secret, not a redirect,
// so that the secret is never stored in a cookie or a URL.
func (u *ui) createToken(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	t, err := admin.CreateToken(r.Context(), u.s, strings.TrimSpace(r.PostFormValue("name")), store.Role(r.PostFormValue("role")), u.actor(r))
	if err != nil {
		return err
	}
	return u.renderTokens(w, r, &t)
}

// revokeToken: POST /tokens/{id}/revoke (admin), as DELETE
// /api/v1/tokens/{id}. Revoking the token one is signed in with ends the
// session at the next request.
func (u *ui) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := adminapi.PathID(r, "id")
	if err != nil {
		return err
	}
	if err := u.s.RevokeToken(r.Context(), id, u.actor(r)); err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Token %d revoked.", id))
	return u.c.Redirect(w, r, "/tokens")
}
