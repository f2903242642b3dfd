package masa

import (
	"crypto/x509"
	"time"
)

// Device is one device the manufacturer built, identified by the serial
// number its IDevID carries in the subject (X520SerialNumber).
type Device struct {
	SerialNumber string    `json:"serial-number"`
	Product      string    `json:"product,omitempty"`
	IDevID       []byte    `json:"idevid,omitempty"` // DER, when the MASA issued or was given it
	OwnerID      int64     `json:"owner-id,omitempty"`
	Status       string    `json:"status"` // DeviceActive or DeviceDisabled
	CreatedAt    time.Time `json:"created-at"`
	UpdatedAt    time.Time `json:"updated-at"`
}

// Device statuses. A disabled device gets no vouchers (403).
const (
	DeviceActive   = "active"
	DeviceDisabled = "disabled"
)

// Owner is a domain, identified by its domain CA certificate. A registrar
// whose signing certificate chains to it speaks for the owner, and vouchers
// for the owner's devices pin it.
type Owner struct {
	ID        int64             `json:"id"`
	Name      string            `json:"name"`
	CACert    []byte            `json:"ca-cert"` // DER
	CASHA256  []byte            `json:"-"`
	DomainID  string            `json:"domain-id"` // RFC 8995 5.8.2
	CreatedAt time.Time         `json:"created-at"`
	cert      *x509.Certificate // parsed CACert, filled by the service
}

// Policy is the voucher policy for a device: RFC 8995 5.5.6 lets the MASA
// issue nonceless vouchers only where the manufacturer allows it.
type Policy struct {
	NoncelessAllowed bool          `json:"nonceless-allowed"`
	MaxLifetime      time.Duration `json:"-"`
	TrustOnFirstUse  bool          `json:"trust-on-first-use"`
}

// DeviceRecord is a device with everything the voucher decision needs:
// its owner and its effective policy (device, else product, else default).
type DeviceRecord struct {
	Device
	Owner  *Owner
	Policy Policy
}

// VoucherRecord is one issued voucher.
type VoucherRecord struct {
	ID               int64      `json:"id"`
	SerialNumber     string     `json:"serial-number"`
	OwnerID          int64      `json:"owner-id"`
	DomainID         string     `json:"domain-id"`
	RequestSHA256    []byte     `json:"-"`
	Nonce            *string    `json:"nonce"`
	Assertion        string     `json:"assertion"`
	ExpiresOn        *time.Time `json:"expires-on,omitempty"`
	RegistrarSubject string     `json:"registrar-subject"`
	Voucher          []byte     `json:"-"`
	IssuedAt         time.Time  `json:"issued-at"`
}

// AuditEvent is one operator or factory action.
type AuditEvent struct {
	ID           int64          `json:"id"`
	At           time.Time      `json:"at"`
	Actor        string         `json:"actor"`
	Action       string         `json:"action"`
	SerialNumber string         `json:"serial-number,omitempty"`
	Detail       map[string]any `json:"detail,omitempty"`
}

// Role is what an admin API token may do.
type Role string

// Token roles. Admin may do everything; the others one job each.
const (
	RoleAdmin   Role = "admin"   // tokens, policy, everything below
	RoleFactory Role = "factory" // IDevID issuance, device import
	RoleSales   Role = "sales"   // owners, ownership, policy
	RoleAuditor Role = "auditor" // read-only queries and exports
)

// ValidRole reports whether r is one of the defined roles.
func ValidRole(r Role) bool {
	switch r {
	case RoleAdmin, RoleFactory, RoleSales, RoleAuditor:
		return true
	}
	return false
}

// Token is an admin API bearer token; only the SHA-256 of its secret is kept.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	SHA256    []byte     `json:"-"`
	CreatedAt time.Time  `json:"created-at"`
	RevokedAt *time.Time `json:"revoked-at,omitempty"`
}

// DeviceFilter selects devices for a query; After is the paging cursor (the
// last serial number of the previous page).
type DeviceFilter struct {
	SerialNumber string
	OwnerID      int64
	Status       string // "", "active", "disabled", "owned", "unowned"
	Product      string
	After        string
	Limit        int
}

// VoucherFilter selects issued vouchers; After is the last id seen.
type VoucherFilter struct {
	SerialNumber string
	OwnerID      int64
	After        int64
	Limit        int
}

// EventFilter selects audit events; After is the last id seen.
type EventFilter struct {
	SerialNumber string
	After        int64
	Limit        int
}

// Selection names a set of devices: a list of serial numbers or an
// inclusive range in the serial numbers' text order.
type Selection struct {
	SerialNumbers []string `json:"serial-numbers,omitempty"`
	From          string   `json:"from,omitempty"`
	To            string   `json:"to,omitempty"`
}
