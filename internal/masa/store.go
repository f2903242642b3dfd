package masa

import (
	"context"
	"time"
)

// Store is the state the MASA needs. The MASA owns this interface;
// sqlstore implements it on PostgreSQL and on the embedded SQLite store of
// a single MASA. Lookups that find nothing return ErrNotFound; inserts that
// collide return ErrDuplicate; a database that cannot be reached gives an
// Unavailable error (503 with Retry-After, matching ErrUnavailable) on
// every method. Methods that change several rows do so atomically: all or
// nothing.
type Store interface {
	// DeviceRecord returns the device with its owner and effective policy.
	DeviceRecord(ctx context.Context, serial string) (DeviceRecord, error)
	// RegisterDevice inserts one device (IDevID issuance), with an event.
	RegisterDevice(ctx context.Context, d Device, ev AuditEvent) error
	// ImportDevices inserts every device or none; ErrDuplicate names no row,
	// the caller checks for existing serials first with ExistingSerials.
	ImportDevices(ctx context.Context, ds []Device, ev AuditEvent) error
	// ExistingSerials returns which of serials are already registered.
	ExistingSerials(ctx context.Context, serials []string) (map[string]bool, error)
	ListDevices(ctx context.Context, f DeviceFilter) ([]Device, error)
	// SetDeviceStatus enables or disables devices; returns how many changed.
	SetDeviceStatus(ctx context.Context, sel Selection, status string, ev AuditEvent) (int64, error)

	// CreateOwner inserts an owner, or returns the existing one with the
	// same CA certificate.
	CreateOwner(ctx context.Context, o Owner, ev AuditEvent) (Owner, error)
	Owner(ctx context.Context, id int64) (Owner, error)
	ListOwners(ctx context.Context) ([]Owner, error)
	// OwnersByAnchor returns the owners (at most 64) whose domain CA
	// certificate has one of the SHA-256 digests or one of the domainIDs
	// (the key identifier that a certificate's authority key identifier
	// names, RFC 8995 5.8.2): the candidates a registrar's chain may end
	// at. The caller verifies the chain.
	OwnersByAnchor(ctx context.Context, sha256s [][]byte, domainIDs []string) ([]Owner, error)
	// AssignOwner sets the owner of the selected devices (ownerID 0 revokes
	// ownership); it returns the serials it changed, and changes nothing
	// when any listed serial is unknown (ErrNotFound).
	AssignOwner(ctx context.Context, sel Selection, ownerID int64, ev AuditEvent) ([]string, error)
	// SetPolicy stores the policy for scope "device" or "product".
	SetPolicy(ctx context.Context, scope, subject string, p Policy, ev AuditEvent) error
	// DeletePolicy removes it, falling back to the next scope.
	DeletePolicy(ctx context.Context, scope, subject string, ev AuditEvent) error

	// VoucherByRequest returns the voucher issued for a byte-identical
	// request, by the request's SHA-256.
	VoucherByRequest(ctx context.Context, sha []byte) (VoucherRecord, error)
	// RecordVoucher records an issued voucher. When claim is set (trust on
	// first use), it also makes claim the device's owner, but only if the
	// device still has none; otherwise it returns ErrDuplicate and records
	// nothing. A concurrent identical request yields ErrDuplicate too.
	RecordVoucher(ctx context.Context, v VoucherRecord, claim *Owner) (VoucherRecord, error)
	ListVouchers(ctx context.Context, f VoucherFilter) ([]VoucherRecord, error)
	// DeviceVouchers returns the newest limit vouchers of one device, newest
	// first, and how many there are in all.
	DeviceVouchers(ctx context.Context, serial string, limit int) ([]VoucherRecord, int64, error)

	ListEvents(ctx context.Context, f EventFilter) ([]AuditEvent, error)

	CreateToken(ctx context.Context, t Token) (Token, error)
	// TokenBySecret returns the unrevoked token whose secret has this hash.
	TokenBySecret(ctx context.Context, sha []byte) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	RevokeToken(ctx context.Context, id int64, at time.Time) error

	Ping(ctx context.Context) error
}
