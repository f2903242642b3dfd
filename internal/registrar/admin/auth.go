package admin

import (
	"net/http"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// needs is the registrar's role rule: a role includes those below it
// (auditor < operator < admin); a principal below need gets 403.
func needs(need store.Role) func(store.Principal) error {
	return func(p store.Principal) error {
		if !p.Role.Includes(need) {
			return adminapi.Errorf(http.StatusForbidden, "role %s may not do this; it needs %s", p.Role, need)
		}
		return nil
	}
}

// actor names the request's principal in audit events.
func actor(r *http.Request) string { return adminapi.PrincipalOf[store.Principal](r).Actor() }
