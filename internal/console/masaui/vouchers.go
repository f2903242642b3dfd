package masaui

import (
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/masa"
)

// vouchersView is a page of issued vouchers.
type vouchersView struct {
	SerialNumber string
	OwnerID      int64
	Items        []masa.VoucherRecord
	Next         string
	Owners       map[int64]string
}

// vouchers: GET /vouchers?serial_number=&owner_id=&cursor= (auditor,
// sales), the store's ListVouchers keyset-paged oldest first, as GET
// /admin/v1/vouchers.
func (u *ui) vouchers(w http.ResponseWriter, r *http.Request) error {
	q := adminapi.ReadQuery(r, "serial_number", "owner_id", "cursor")
	v := vouchersView{SerialNumber: strings.TrimSpace(q.Str("serial_number")), OwnerID: q.Int("owner_id")}
	f := masa.VoucherFilter{SerialNumber: v.SerialNumber, OwnerID: v.OwnerID, Limit: pageSize + 1}
	if err := q.Err(); err != nil {
		return err
	}
	if _, err := adminapi.DecodeCursor(q.Cursor(), &f.After); err != nil {
		return err
	}
	vs, err := u.svc.Store().ListVouchers(r.Context(), f)
	if err != nil {
		return err
	}
	page := adminapi.PageOf(vs, pageSize, func(v masa.VoucherRecord) []any { return []any{v.ID} })
	v.Items, v.Next = page.Items, page.Next
	if v.Owners, err = u.ownerNames(r); err != nil {
		return err
	}
	return u.c.Render(w, r, web.Page{Name: "vouchers", Title: "Vouchers issued", Data: v})
}
