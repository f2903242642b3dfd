package httpapi

import (
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
)

// Device is a registered device as the admin API shows it.
type Device struct {
	SerialNumber string    `json:"serial_number"`
	Product      string    `json:"product,omitempty"`
	IDevID       []byte    `json:"idevid,omitempty"` // DER, when the MASA issued or was given it
	OwnerID      int64     `json:"owner_id,omitempty"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func deviceOf(d masa.Device) Device {
	return Device{SerialNumber: d.SerialNumber, Product: d.Product, IDevID: d.IDevID, OwnerID: d.OwnerID, Status: d.Status,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// DeviceDetail is a device with its effective voucher policy.
type DeviceDetail struct {
	Device
	Policy PolicyBody `json:"policy"`
}

// importDevices: POST /admin/v1/devices/import (factory), a JSON or CSV
// document in the import format of masa.ImportDevices; all or nothing,
// 422 with every rejected row.
func (a *adminAPI) importDevices(w http.ResponseWriter, r *http.Request) error {
	var format string
	switch adminapi.MediaType(r) {
	case adminapi.MediaJSON:
		format = "json"
	case adminapi.MediaCSV:
		format = "csv"
	default:
		return adminapi.Errorf(http.StatusUnsupportedMediaType, "import must be application/json or text/csv")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	n, err := a.svc.ImportDevices(r.Context(), format, body, actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, map[string]int{"imported": n})
}

// maxExportLimit is the largest page a CSV export may ask for.
const maxExportLimit = 100000

// listQuery reads the export format, the filters named and the paging of
// a list; CSV exports may ask for larger pages.
func listQuery(r *http.Request, filters ...string) (q *adminapi.Query, format string, limit int, err error) {
	q = adminapi.ReadQuery(r, append(filters, "format", "limit", "cursor")...)
	if format, err = adminapi.ExportFormat(r, q); err != nil {
		return nil, "", 0, err
	}
	max := adminapi.MaxLimit
	if format == adminapi.FormatCSV {
		max = maxExportLimit
	}
	limit = q.Limit(max)
	return q, format, limit, q.Err()
}

// listDevices: GET /admin/v1/devices?serial_number=&owner_id=&status=&product=&format=&limit=&cursor=,
// in serial-number order.
func (a *adminAPI) listDevices(w http.ResponseWriter, r *http.Request) error {
	q, format, limit, err := listQuery(r, "serial_number", "owner_id", "status", "product")
	if err != nil {
		return err
	}
	f := masa.DeviceFilter{SerialNumber: q.Str("serial_number"), OwnerID: q.Int("owner_id"), Status: q.Str("status"),
		Product: q.Str("product"), Limit: limit + 1}
	if err := q.Err(); err != nil {
		return err
	}
	if err := masa.CheckDeviceStatus(f.Status); err != nil {
		return err
	}
	if _, err := adminapi.DecodeCursor(q.Cursor(), &f.After); err != nil {
		return err
	}
	ds, err := a.svc.Store().ListDevices(r.Context(), f)
	if err != nil {
		return err
	}
	page := adminapi.PageOf(mapSlice(ds, deviceOf), limit, func(d Device) []any { return []any{d.SerialNumber} })
	return adminapi.WriteExport(w, format, page, []string{"serial_number", "product", "idevid", "owner_id", "status", "created_at", "updated_at"},
		func(d Device) []string {
			return []string{d.SerialNumber, d.Product, base64.StdEncoding.EncodeToString(d.IDevID), idOrEmpty(d.OwnerID), d.Status,
				d.CreatedAt.UTC().Format(time.RFC3339Nano), d.UpdatedAt.UTC().Format(time.RFC3339Nano)}
		})
}

// getDevice: GET /admin/v1/devices/{serial}, with its effective policy.
func (a *adminAPI) getDevice(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.ReadQuery(r).Err(); err != nil {
		return err
	}
	rec, err := a.svc.Device(r.Context(), adminapi.PathParam(r, "serial"))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, DeviceDetail{Device: deviceOf(rec.Device), Policy: policyBody(rec.Policy)})
}

type statusRequest struct {
	selection
	Status string `json:"status"`
}

// setStatus: POST /admin/v1/devices/status (sales) enables or disables
// the selected devices; a disabled device gets no voucher.
func (a *adminAPI) setStatus(w http.ResponseWriter, r *http.Request) error {
	var req statusRequest
	if err := adminapi.DecodeJSON(r, &req); err != nil {
		return err
	}
	n, err := a.svc.SetDeviceStatus(r.Context(), req.selection.masa(), req.Status, actor(r))
	if err != nil {
		return err
	}
	return adminapi.WriteJSON(w, http.StatusOK, map[string]int64{"changed": n})
}

func idOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func mapSlice[T, U any](ts []T, f func(T) U) []U {
	us := make([]U, len(ts))
	for i, t := range ts {
		us[i] = f(t)
	}
	return us
}

// Page is one page of a list: {"items": [...], "next": "<cursor>"}, next
// absent on the last page (adminapi's paging convention).
type Page[T any] = adminapi.Page[T]
