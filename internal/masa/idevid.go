package masa

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// idevidNotAfter is the "no well-defined expiration" date of RFC 5280
// 4.1.2.5 that RFC 8995 2.3.1 recommends for IDevIDs.
var idevidNotAfter = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// IssueRequest asks for one IDevID.
type IssueRequest struct {
	CSR          []byte // PKCS#10, DER
	SerialNumber string // if empty, taken from the CSR subject's serialNumber
	Product      string
	Actor        string
}

// IssueIDevID signs a factory device's CSR into an IDevID whose subject is
// the serial number (X520SerialNumber, RFC 8995 2.3.1) and which carries
// the MASA URL extension (2.3.2), and registers the device. The certificate
// leaves the MASA only if the device's row was committed.
func (s *Service) IssueIDevID(ctx context.Context, r IssueRequest) (*x509.Certificate, error) {
	if s.cfg.IDevIDKey == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Reason: "this MASA holds no IDevID CA key"}
	}
	csr, err := x509.ParseCertificateRequest(r.CSR)
	if err != nil {
		return nil, BadRequest("malformed CSR: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, BadRequest("CSR signature does not verify")
	}
	serial := r.SerialNumber
	if serial == "" {
		serial = csr.Subject.SerialNumber
	} else if csr.Subject.SerialNumber != "" && csr.Subject.SerialNumber != serial {
		return nil, Unprocessable("CSR subject serialNumber %q differs from serial-number %q", csr.Subject.SerialNumber, serial)
	}
	if reason := checkSerial(serial); reason != "" {
		return nil, Unprocessable("serial-number: %s", reason)
	}
	if reason := checkProduct(r.Product); reason != "" {
		return nil, Unprocessable("product: %s", reason)
	}
	ext, err := voucher.MASAURLExtension(s.cfg.MASAURL)
	if err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Reason: "MASA URL is not configured correctly", Err: err}
	}
	now := s.clock()
	tmpl := &x509.Certificate{
		SerialNumber:    randomSerial(),
		Subject:         pkix.Name{SerialNumber: serial},
		NotBefore:       now.Add(-time.Minute),
		NotAfter:        idevidNotAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{ext},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.cfg.IDevIDCA, csr.PublicKey, s.cfg.IDevIDKey)
	if err != nil {
		return nil, BadRequest("cannot certify the CSR's key: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	err = s.store.RegisterDevice(ctx, Device{SerialNumber: serial, Product: r.Product, IDevID: der, Status: DeviceActive, CreatedAt: now, UpdatedAt: now},
		AuditEvent{At: now, Actor: r.Actor, Action: "idevid.issue", SerialNumber: serial, Detail: map[string]any{"product": r.Product}})
	if errors.Is(err, ErrDuplicate) {
		return nil, Conflict("device %q is already registered", serial)
	}
	if err != nil {
		return nil, err
	}
	return cert, nil
}

// checkSerial returns why s cannot be a device serial number, or "". The
// serial number goes into the IDevID as a PrintableString.
func checkSerial(s string) string {
	if s == "" {
		return "empty"
	}
	if len(s) > 64 {
		return "longer than 64 characters"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' ||
			c == '\'' || c == '(' || c == ')' || c == '+' || c == ',' || c == '-' || c == '.' ||
			c == '/' || c == ':' || c == '=' || c == '?') {
			return fmt.Sprintf("character %q is not allowed in a PrintableString", c)
		}
	}
	return ""
}

func checkProduct(p string) string {
	if len(p) > 128 {
		return "longer than 128 characters"
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return "contains a control character"
		}
	}
	return ""
}
