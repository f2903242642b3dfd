package masa

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
)

// CreateOwner registers a domain by its domain CA certificate (PEM or DER).
// Registering the same certificate again returns the existing owner.
func (s *Service) CreateOwner(ctx context.Context, name string, caCert []byte, actor string) (Owner, error) {
	cert, err := ParseCertificatePEMOrDER(caCert)
	if err != nil {
		return Owner{}, Unprocessable("ca-cert: %v", err)
	}
	if !cert.IsCA {
		return Owner{}, Unprocessable("ca-cert is not a CA certificate (basicConstraints cA is false)")
	}
	if name == "" {
		name = cert.Subject.String()
	}
	if reason := checkProduct(name); reason != "" {
		return Owner{}, Unprocessable("name: %s", reason)
	}
	sum := sha256.Sum256(cert.Raw)
	now := s.clock()
	return s.store.CreateOwner(ctx, Owner{Name: name, CACert: cert.Raw, CASHA256: sum[:], DomainID: DomainID(cert), CreatedAt: now},
		AuditEvent{At: now, Actor: actor, Action: "owner.create", Detail: map[string]any{"name": name}})
}

func checkSelection(sel Selection) error {
	switch {
	case len(sel.SerialNumbers) > 0 && (sel.From != "" || sel.To != ""):
		return Unprocessable("give serial-numbers or a from/to range, not both")
	case len(sel.SerialNumbers) > MaxImportRows:
		return Unprocessable("at most %d serial-numbers at once", MaxImportRows)
	case len(sel.SerialNumbers) == 0 && (sel.From == "" || sel.To == ""):
		return Unprocessable("name the devices: serial-numbers, or both from and to")
	case len(sel.SerialNumbers) == 0 && sel.From > sel.To:
		return Unprocessable("range from %q is after to %q", sel.From, sel.To)
	}
	return nil
}

// AssignOwner makes ownerID the owner of the selected devices; it returns
// the serial numbers that changed. Vouchers for them will pin the owner's
// domain CA certificate.
func (s *Service) AssignOwner(ctx context.Context, sel Selection, ownerID int64, actor string) ([]string, error) {
	if err := checkSelection(sel); err != nil {
		return nil, err
	}
	if _, err := s.store.Owner(ctx, ownerID); errors.Is(err, ErrNotFound) {
		return nil, NotFound("unknown owner %d", ownerID)
	} else if err != nil {
		return nil, err
	}
	changed, err := s.store.AssignOwner(ctx, sel, ownerID, AuditEvent{At: s.clock(), Actor: actor, Action: "ownership.assign",
		Detail: map[string]any{"owner-id": ownerID, "selection": sel}})
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("a listed device is unknown; nothing changed")
	}
	return changed, err
}

// RevokeOwnership clears the owner of the selected devices.
func (s *Service) RevokeOwnership(ctx context.Context, sel Selection, actor string) ([]string, error) {
	if err := checkSelection(sel); err != nil {
		return nil, err
	}
	changed, err := s.store.AssignOwner(ctx, sel, 0, AuditEvent{At: s.clock(), Actor: actor, Action: "ownership.revoke",
		Detail: map[string]any{"selection": sel}})
	if errors.Is(err, ErrNotFound) {
		return nil, NotFound("a listed device is unknown; nothing changed")
	}
	return changed, err
}

// SetDeviceStatus enables or disables the selected devices.
func (s *Service) SetDeviceStatus(ctx context.Context, sel Selection, status, actor string) (int64, error) {
	if status != DeviceActive && status != DeviceDisabled {
		return 0, Unprocessable("status must be %q or %q", DeviceActive, DeviceDisabled)
	}
	if err := checkSelection(sel); err != nil {
		return 0, err
	}
	n, err := s.store.SetDeviceStatus(ctx, sel, status, AuditEvent{At: s.clock(), Actor: actor, Action: "device.status",
		Detail: map[string]any{"status": status, "selection": sel}})
	if errors.Is(err, ErrNotFound) {
		return 0, NotFound("a listed device is unknown; nothing changed")
	}
	return n, err
}

// MaxVoucherLifetime bounds a policy's nonceless voucher lifetime.
const MaxVoucherLifetime = 5 * 365 * 24 * time.Hour

// SetPolicy sets the voucher policy of a device ("device", serial) or of a
// product ("product", name) (RFC 8995 5.5.6 leaves nonceless vouchers to
// the manufacturer's policy).
func (s *Service) SetPolicy(ctx context.Context, scope, subject string, p Policy, actor string) error {
	if err := s.checkScope(ctx, scope, subject); err != nil {
		return err
	}
	if p.MaxLifetime < 0 || p.MaxLifetime > MaxVoucherLifetime {
		return Unprocessable("max-lifetime-seconds must be between 0 and %d", int64(MaxVoucherLifetime/time.Second))
	}
	if p.NoncelessAllowed && p.MaxLifetime < time.Second {
		return Unprocessable("nonceless vouchers need a max-lifetime-seconds of at least 1")
	}
	return s.store.SetPolicy(ctx, scope, subject, p, AuditEvent{At: s.clock(), Actor: actor, Action: "policy.set",
		SerialNumber: serialIf(scope, subject), Detail: map[string]any{"scope": scope, "subject": subject,
			"nonceless-allowed": p.NoncelessAllowed, "max-lifetime-seconds": int64(p.MaxLifetime / time.Second),
			"trust-on-first-use": p.TrustOnFirstUse}})
}

// DeletePolicy removes a device or product policy.
func (s *Service) DeletePolicy(ctx context.Context, scope, subject, actor string) error {
	if scope != "device" && scope != "product" {
		return NotFound("policy scope must be device or product")
	}
	err := s.store.DeletePolicy(ctx, scope, subject, AuditEvent{At: s.clock(), Actor: actor, Action: "policy.delete",
		SerialNumber: serialIf(scope, subject), Detail: map[string]any{"scope": scope, "subject": subject}})
	if errors.Is(err, ErrNotFound) {
		return NotFound("no %s policy for %q", scope, subject)
	}
	return err
}

func serialIf(scope, subject string) string {
	if scope == "device" {
		return subject
	}
	return ""
}

func (s *Service) checkScope(ctx context.Context, scope, subject string) error {
	switch scope {
	case "device":
		if _, err := s.store.DeviceRecord(ctx, subject); errors.Is(err, ErrNotFound) {
			return NotFound("unknown device %q", subject)
		} else if err != nil {
			return err
		}
	case "product":
		if subject == "" || checkProduct(subject) != "" {
			return Unprocessable("bad product name")
		}
	default:
		return NotFound("policy scope must be device or product")
	}
	return nil
}
