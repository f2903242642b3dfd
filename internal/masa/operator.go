package masa

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"slices"
	"strconv"
)

// What the operator front ends share: the admin API (internal/masa/httpapi)
// and the operator console (internal/console/masaui) gate, name and read
// their callers' requests through these, so that both answer alike.

// Permission is what an admin API route or console page needs of a
// token's role.
type Permission string

// The MASA's permissions, each held by the roles permissionRoles lists and
// always by admin.
const (
	PermFactory      Permission = "factory"       // issue IDevIDs, import devices
	PermSales        Permission = "sales"         // owners, ownership, device status, policy
	PermReadDevices  Permission = "read-devices"  // list and look up devices
	PermReadOwners   Permission = "read-owners"   // list owners
	PermReadVouchers Permission = "read-vouchers" // list issued vouchers
	PermReadEvents   Permission = "read-events"   // the MASA's audit trail
)

var permissionRoles = map[Permission][]Role{
	PermFactory:      {RoleFactory},
	PermSales:        {RoleSales},
	PermReadDevices:  {RoleAuditor, RoleSales, RoleFactory},
	PermReadOwners:   {RoleSales, RoleAuditor},
	PermReadVouchers: {RoleAuditor, RoleSales},
	PermReadEvents:   {RoleAuditor},
}

// Can reports whether the token's role holds p: admin holds every
// permission, the other roles those permissionRoles gives them.
func (t Token) Can(p Permission) bool {
	return t.Role == RoleAdmin || slices.Contains(permissionRoles[p], t.Role)
}

// Check is Can as an error: 403 for a role without p.
func (t Token) Check(p Permission) error {
	if !t.Can(p) {
		return Forbidden("role %q may not do this", t.Role)
	}
	return nil
}

// Actor names the token in audit events: "token:<id>:<name>".
func (t Token) Actor() string {
	return "token:" + strconv.FormatInt(t.ID, 10) + ":" + t.Name
}

// DecodeCSR reads a PKCS#10 request given as PEM or as base64 DER, and
// returns its DER (400 for anything else).
func DecodeCSR(s string) ([]byte, error) {
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		return blk.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, BadRequest("csr must be PEM or base64 DER")
	}
	return der, nil
}

// DecodeCACert reads a domain CA certificate given as PEM or base64 DER
// into the bytes CreateOwner takes (422 for anything else).
func DecodeCACert(s string) ([]byte, error) {
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		return []byte(s), nil
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, Unprocessable("ca_cert must be PEM or base64 DER")
	}
	return der, nil
}

// CheckDeviceStatus refuses (400) a device list's status filter that is
// none of "", active, disabled, owned and unowned.
func CheckDeviceStatus(status string) error {
	switch status {
	case "", DeviceActive, DeviceDisabled, "owned", "unowned":
		return nil
	}
	return BadRequest("status must be active, disabled, owned or unowned")
}

// Device is the device with its owner and effective policy; 404 for a
// serial number the MASA does not know.
func (s *Service) Device(ctx context.Context, serial string) (DeviceRecord, error) {
	rec, err := s.store.DeviceRecord(ctx, serial)
	if errors.Is(err, ErrNotFound) {
		return DeviceRecord{}, NotFound("unknown device")
	}
	return rec, err
}

// Buyer is the owner a sale names: a registered owner by its id, or a
// domain by its CA certificate (PEM or base64 DER), registered under Name
// if it is new.
type Buyer struct {
	OwnerID int64
	CACert  string
	Name    string
}

// Sell assigns the selected devices to the buyer, registering the
// buyer's domain first when it is named by certificate; it returns the
// serial numbers that changed (AssignOwner). A buyer must be named one
// way, not both (422).
func (s *Service) Sell(ctx context.Context, sel Selection, b Buyer, actor string) ([]string, error) {
	if (b.OwnerID == 0) == (b.CACert == "") {
		return nil, Unprocessable("name the owner by owner_id or by ca_cert")
	}
	if b.CACert != "" {
		raw, err := DecodeCACert(b.CACert)
		if err != nil {
			return nil, err
		}
		o, err := s.CreateOwner(ctx, b.Name, raw, actor)
		if err != nil {
			return nil, err
		}
		b.OwnerID = o.ID
	}
	return s.AssignOwner(ctx, sel, b.OwnerID, actor)
}
