package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// VoucherRecord is one issued voucher (RFC 8366) as the admin API shows
// it, without the voucher itself.
type VoucherRecord struct {
	ID               int64      `json:"id"`
	SerialNumber     string     `json:"serial_number"`
	OwnerID          int64      `json:"owner_id"`
	DomainID         string     `json:"domain_id"`
	Nonce            *string    `json:"nonce"`
	Assertion        string     `json:"assertion"`
	ExpiresOn        *time.Time `json:"expires_on,omitempty"`
	RegistrarSubject string     `json:"registrar_subject"`
	IssuedAt         time.Time  `json:"issued_at"`
	// Format is the voucher's signature format: cms, jws or cose, read
	// from the stored voucher's first byte (voucher.DetectFormat).
	Format string `json:"format"`
}

func voucherRecordOf(v masa.VoucherRecord) VoucherRecord {
	format := "unknown"
	if f, ok := voucher.DetectFormat(v.Voucher); ok {
		format = f.String()
	}
	return VoucherRecord{ID: v.ID, SerialNumber: v.SerialNumber, OwnerID: v.OwnerID, DomainID: v.DomainID, Nonce: v.Nonce,
		Assertion: v.Assertion, ExpiresOn: v.ExpiresOn, RegistrarSubject: v.RegistrarSubject, IssuedAt: v.IssuedAt, Format: format}
}

// listVouchers: GET /admin/v1/vouchers?serial_number=&owner_id=&format=&limit=&cursor=
// (auditor, sales), oldest first.
func (a *adminAPI) listVouchers(w http.ResponseWriter, r *http.Request) error {
	q, format, limit, err := listQuery(r, "serial_number", "owner_id")
	if err != nil {
		return err
	}
	f := masa.VoucherFilter{SerialNumber: q.Str("serial_number"), OwnerID: q.Int("owner_id"), Limit: limit + 1}
	if err := q.Err(); err != nil {
		return err
	}
	if _, err := adminapi.DecodeCursor(q.Cursor(), &f.After); err != nil {
		return err
	}
	vs, err := a.svc.Store().ListVouchers(r.Context(), f)
	if err != nil {
		return err
	}
	page := adminapi.PageOf(mapSlice(vs, voucherRecordOf), limit, func(v VoucherRecord) []any { return []any{v.ID} })
	return adminapi.WriteExport(w, format, page, []string{"id", "serial_number", "owner_id", "domain_id", "nonce", "assertion", "expires_on",
		"registrar_subject", "issued_at", "format"}, voucherCSVRow)
}

func voucherCSVRow(v VoucherRecord) []string {
	nonce, exp := "", ""
	if v.Nonce != nil {
		nonce = *v.Nonce
	}
	if v.ExpiresOn != nil {
		exp = v.ExpiresOn.UTC().Format(time.RFC3339Nano)
	}
	return []string{strconv.FormatInt(v.ID, 10), v.SerialNumber, strconv.FormatInt(v.OwnerID, 10), v.DomainID, nonce,
		v.Assertion, exp, v.RegistrarSubject, v.IssuedAt.UTC().Format(time.RFC3339Nano), v.Format}
}
