package masa

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

// TestPermissions: each role holds exactly the permissions the admin API
// gave it before the rule moved here, and admin holds all.
func TestPermissions(t *testing.T) {
	want := map[Role][]Permission{
		RoleAdmin:   {PermFactory, PermSales, PermReadDevices, PermReadOwners, PermReadVouchers, PermReadEvents},
		RoleFactory: {PermFactory, PermReadDevices},
		RoleSales:   {PermSales, PermReadDevices, PermReadOwners, PermReadVouchers},
		RoleAuditor: {PermReadDevices, PermReadOwners, PermReadVouchers, PermReadEvents},
		"intern":    nil,
	}
	all := []Permission{PermFactory, PermSales, PermReadDevices, PermReadOwners, PermReadVouchers, PermReadEvents}
	for role, perms := range want {
		held := map[Permission]bool{}
		for _, p := range perms {
			held[p] = true
		}
		tok := Token{ID: 7, Name: "t", Role: role}
		for _, p := range all {
			if tok.Can(p) != held[p] {
				t.Errorf("role %s: Can(%s) = %v, want %v", role, p, tok.Can(p), held[p])
			}
			var me *Error
			if err := tok.Check(p); held[p] != (err == nil) || (err != nil && (!errors.As(err, &me) || me.Status != http.StatusForbidden)) {
				t.Errorf("role %s: Check(%s) = %v", role, p, err)
			}
		}
	}
	if got := (Token{ID: 7, Name: "line 3"}).Actor(); got != "token:7:line 3" {
		t.Errorf("Actor = %q", got)
	}
}

// TestSellNamesOneBuyer: a sale naming no owner, or both an id and a
// certificate, is refused before anything is read or written.
func TestSellNamesOneBuyer(t *testing.T) {
	s := &Service{} // no store: a refused sale must not reach it
	for _, b := range []Buyer{{}, {OwnerID: 1, CACert: "x"}} {
		_, err := s.Sell(context.Background(), Selection{SerialNumbers: []string{"A"}}, b, "t")
		var me *Error
		if !errors.As(err, &me) || me.Status != http.StatusUnprocessableEntity {
			t.Errorf("Sell(%+v) = %v, want 422", b, err)
		}
	}
	if _, err := DecodeCACert("not a certificate"); err == nil {
		t.Error("DecodeCACert accepted text that is neither PEM nor base64")
	}
	if _, err := DecodeCSR("%%%"); err == nil {
		t.Error("DecodeCSR accepted text that is neither PEM nor base64")
	}
	if err := CheckDeviceStatus("sold"); err == nil {
		t.Error(`CheckDeviceStatus("sold") = nil`)
	}
}
