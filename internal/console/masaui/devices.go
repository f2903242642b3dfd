package masaui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/console/web"
	"github.com/landfall-io/landfall/internal/masa"
)

// devicesView is the device list: the search, a page of devices, and the
// rejected rows of a failed import.
type devicesView struct {
	SerialNumber, Status, Product string
	Items                         []masa.Device
	Next                          string
	Owners                        map[int64]string // nil unless the viewer may read owners
	Problem                       string
	Rejected                      []masa.RowError
}

// devices: GET /devices?serial_number=&status=&product=&cursor=, the
// store's ListDevices keyset-paged in serial-number order with the
// filters of GET /admin/v1/devices; serial_number finds one device.
func (u *ui) devices(w http.ResponseWriter, r *http.Request) error {
	return u.renderDevices(w, r, http.StatusOK, devicesView{})
}

func (u *ui) renderDevices(w http.ResponseWriter, r *http.Request, status int, v devicesView) error {
	q := adminapi.ReadQuery(r, "serial_number", "status", "product", "cursor")
	v.SerialNumber, v.Status, v.Product = strings.TrimSpace(q.Str("serial_number")), q.Str("status"), q.Str("product")
	f := masa.DeviceFilter{SerialNumber: v.SerialNumber, Status: v.Status, Product: v.Product, Limit: pageSize + 1}
	if err := q.Err(); err != nil {
		return err
	}
	if err := masa.CheckDeviceStatus(f.Status); err != nil {
		return err
	}
	if _, err := adminapi.DecodeCursor(q.Cursor(), &f.After); err != nil {
		return err
	}
	ds, err := u.svc.Store().ListDevices(r.Context(), f)
	if err != nil {
		return err
	}
	page := adminapi.PageOf(ds, pageSize, func(d masa.Device) []any { return []any{d.SerialNumber} })
	v.Items, v.Next = page.Items, page.Next
	if u.c.Principal(r).Can(masa.PermReadOwners) {
		if v.Owners, err = u.ownerNames(r); err != nil {
			return err
		}
	}
	return u.c.Render(w, r, web.Page{Name: "devices", Title: "Devices", Status: status, Data: v})
}

// importDevices: POST /devices/import (factory), a file (field file) or
// pasted text (field text) in the import format version 1, CSV or JSON
// (field format), imported all or nothing by Service.ImportDevices as
// POST /admin/v1/devices/import: a rejected row is a 422 page listing
// every one, and nothing is imported.
func (u *ui) importDevices(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	body, err := formText(r, "file", "text")
	if err != nil {
		return err
	}
	if body == nil {
		return web.Errorf(http.StatusBadRequest, "choose an import file or paste its text")
	}
	n, err := u.svc.ImportDevices(r.Context(), r.PostFormValue("format"), body, u.actor(r))
	var ie *masa.ImportError
	if errors.As(err, &ie) {
		// The page is the device list's: its pager leads from there.
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = Base+"/devices", "", ""
		return u.renderDevices(w, r, http.StatusUnprocessableEntity, devicesView{Problem: ie.Error(), Rejected: ie.Rows})
	}
	if err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Imported %s.", devicesCount(n)))
	return u.c.Redirect(w, r, "/devices")
}

// mint: POST /devices/mint (factory) signs a device's CSR (field csr, PEM
// or base64 DER, or the file csr_file) into an IDevID and registers the
// device, by Service.IssueIDevID as POST /admin/v1/idevids. The device
// keeps its key; its page then shows the certificate.
func (u *ui) mint(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	text, err := formText(r, "csr_file", "csr")
	if err != nil {
		return err
	}
	if text == nil {
		return web.Errorf(http.StatusBadRequest, "choose the device's CSR file or paste it")
	}
	der, err := masa.DecodeCSR(string(text))
	if err != nil {
		return err
	}
	cert, err := u.svc.IssueIDevID(r.Context(), masa.IssueRequest{CSR: der, SerialNumber: strings.TrimSpace(r.PostFormValue("serial_number")),
		Product: r.PostFormValue("product"), Actor: u.actor(r)})
	if err != nil {
		return err
	}
	serial := cert.Subject.SerialNumber
	u.c.Flash(w, r, fmt.Sprintf("Minted the IDevID of %s.", serial))
	return u.c.Redirect(w, r, "/devices/"+pathEscape(serial))
}

// deviceView is one device's page.
type deviceView struct {
	Record       masa.DeviceRecord
	Owners       []masa.Owner // for the sale form; nil unless the viewer may sell
	Vouchers     []masa.VoucherRecord
	VoucherTotal int64
	ShowVouchers bool
	Events       []masa.AuditEvent
	MoreEvents   bool
	ShowEvents   bool
}

// deviceVoucherCount and deviceEventCount bound what a device's page
// shows; the vouchers and audit log pages page through the rest.
const (
	deviceVoucherCount = 20
	deviceEventCount   = 50
)

// device: GET /devices/{serial}, the device with its owner and effective
// policy (Service.Device, as GET /admin/v1/devices/{serial}), its newest
// vouchers to a viewer who may read vouchers, and its first audit events
// to one who may read events.
func (u *ui) device(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.ReadQuery(r).Err(); err != nil {
		return err
	}
	rec, err := u.svc.Device(r.Context(), adminapi.PathParam(r, "serial"))
	if err != nil {
		return err
	}
	v := deviceView{Record: rec}
	t := u.c.Principal(r)
	if t.Can(masa.PermReadVouchers) {
		v.ShowVouchers = true
		if v.Vouchers, v.VoucherTotal, err = u.svc.Store().DeviceVouchers(r.Context(), rec.SerialNumber, deviceVoucherCount); err != nil {
			return err
		}
	}
	if t.Can(masa.PermReadEvents) {
		v.ShowEvents = true
		es, err := u.svc.Store().ListEvents(r.Context(), masa.EventFilter{SerialNumber: rec.SerialNumber, Limit: deviceEventCount + 1})
		if err != nil {
			return err
		}
		if len(es) > deviceEventCount {
			es, v.MoreEvents = es[:deviceEventCount], true
		}
		v.Events = es
	}
	if t.Can(masa.PermSales) {
		if v.Owners, err = u.svc.Store().ListOwners(r.Context()); err != nil {
			return err
		}
	}
	return u.c.Render(w, r, web.Page{Name: "device", Title: "Device " + rec.SerialNumber, Data: v})
}

// setStatus: POST /devices/{serial}/status status=active|disabled (sales),
// Service.SetDeviceStatus as POST /admin/v1/devices/status; a disabled
// device gets no voucher.
func (u *ui) setStatus(w http.ResponseWriter, r *http.Request) error {
	if err := u.c.ParseForm(r); err != nil {
		return err
	}
	serial, status := adminapi.PathParam(r, "serial"), r.PostFormValue("status")
	if _, err := u.svc.SetDeviceStatus(r.Context(), masa.Selection{SerialNumbers: []string{serial}}, status, u.actor(r)); err != nil {
		return err
	}
	u.c.Flash(w, r, fmt.Sprintf("Device %s is %s.", serial, status))
	return u.c.Redirect(w, r, "/devices/"+pathEscape(serial))
}

// formText is the content of the uploaded file field, else of the text
// field when it is not blank, else nil.
func formText(r *http.Request, file, text string) ([]byte, error) {
	if f, _, err := r.FormFile(file); err == nil {
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return nil, err
		}
		if len(b) > 0 {
			return b, nil
		}
	}
	if s := r.PostFormValue(text); strings.TrimSpace(s) != "" {
		return []byte(s), nil
	}
	return nil, nil
}

// pathEscape escapes a serial number for a console path: it may hold "/"
// and other characters a PrintableString allows.
func pathEscape(s string) string { return url.PathEscape(s) }
