package masa

import (
	"context"
	"errors"
)

// AuditLog is the MASA audit log response of RFC 8995 section 5.8.1.
type AuditLog struct {
	Version    int          `json:"version"`
	Events     []AuditEntry `json:"events"`
	Truncation Truncation   `json:"truncation"`
}

// AuditEntry is one voucher issued for the device.
type AuditEntry struct {
	Date      string  `json:"date"`
	DomainID  string  `json:"domainID"`
	Nonce     *string `json:"nonce"`
	Assertion string  `json:"assertion"`
	Truncated int     `json:"truncated,omitempty"`
}

// Truncation counts the entries left out (RFC 8995 section 5.8.1). The MASA
// keeps the newest entries and counts the rest as "arbitrary".
type Truncation struct {
	NoncedDuplicates    int64 `json:"nonced duplicates"`
	NoncelessDuplicates int64 `json:"nonceless duplicates"`
	Arbitrary           int64 `json:"arbitrary"`
}

// RequestAuditLog answers POST /.well-known/brski/requestauditlog (RFC 8995
// section 5.7/5.8): the body is a registrar voucher-request naming the
// device; only a registrar of the device's current owner (its CMS signer
// chains to the owner's domain CA, 5.5.4) gets its log. Everyone else gets
// noSuchDevice, the same answer for an unknown, an unsold and a
// foreign-owned serial-number, after the same device-independent checks
// as a voucher-request.
func (s *Service) RequestAuditLog(ctx context.Context, in VoucherRequest) (*AuditLog, error) {
	now := s.clock()
	rr, err := s.checkRegistrarRequest(in.Body, in.Format, now)
	if err != nil {
		return nil, err
	}
	serial := rr.Request.SerialNumber
	rec, err := s.store.DeviceRecord(ctx, serial)
	if errors.Is(err, ErrNotFound) {
		return nil, noSuchDevice("audit log of unknown device %q", serial)
	}
	if err != nil {
		return nil, err
	}
	if _, ok, err := s.isOwnersRegistrar(rr, rec, now); err != nil {
		return nil, err
	} else if !ok {
		return nil, noSuchDevice("audit log of device %q for registrar %q, not of its owner", serial, rr.Registrar.Subject)
	}
	vs, total, err := s.store.DeviceVouchers(ctx, rec.SerialNumber, s.cfg.AuditLogLimit)
	if err != nil {
		return nil, err
	}
	log := &AuditLog{Version: 1, Events: make([]AuditEntry, 0, len(vs))}
	// Oldest first, as a log reads.
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		log.Events = append(log.Events, AuditEntry{Date: rfc3339(v.IssuedAt), DomainID: v.DomainID, Nonce: v.Nonce, Assertion: v.Assertion})
	}
	log.Truncation.Arbitrary = total - int64(len(vs))
	return log, nil
}
