package masa

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// Bulk device import, schema version 1 (published in api/openapi.yaml as
// DeviceImportV1 and in docs/masa.md):
//
// JSON: {"version": 1, "devices": [{"serial-number": "...", "product": "...", "idevid": "<base64 DER>"}]}
//
// CSV: a header line "serial-number,product,idevid" (version 1 is this
// exact header), then one device per line; product and idevid may be empty.
const (
	ImportVersion   = 1
	ImportCSVHeader = "serial-number,product,idevid"
	// MaxImportRows caps one import.
	MaxImportRows = 100000
)

// RowError is one rejected row of an import: its line in the input (1 is
// the first line) and why.
type RowError struct {
	Line   int    `json:"line"`
	Serial string `json:"serial-number,omitempty"`
	Reason string `json:"reason"`
}

// ImportError rejects a whole import: nothing was stored.
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("import rejected: %d bad rows, first at line %d: %s", len(e.Rows), e.Rows[0].Line, e.Rows[0].Reason)
}

type importRow struct {
	line    int
	serial  string
	product string
	idevid  string
}

// ImportDevices validates every row of a JSON or CSV import ("json" or
// "csv") and stores all of them, or none: any bad row rejects the import
// with an *ImportError listing every bad row (422).
func (s *Service) ImportDevices(ctx context.Context, format string, body []byte, actor string) (int, error) {
	var rows []importRow
	var err error
	switch format {
	case "json":
		rows, err = parseImportJSON(body)
	case "csv":
		rows, err = parseImportCSV(body)
	default:
		return 0, &Error{Status: http.StatusUnsupportedMediaType, Reason: "import must be application/json or text/csv"}
	}
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		return 0, Unprocessable("import has no devices")
	}
	if len(rows) > MaxImportRows {
		return 0, Unprocessable("import has %d devices; at most %d per import", len(rows), MaxImportRows)
	}
	now := s.clock()
	var bad []RowError
	seen := make(map[string]int, len(rows))
	devices := make([]Device, 0, len(rows))
	serials := make([]string, 0, len(rows))
	for _, r := range rows {
		fail := func(format string, args ...any) {
			bad = append(bad, RowError{Line: r.line, Serial: r.serial, Reason: fmt.Sprintf(format, args...)})
		}
		if reason := checkSerial(r.serial); reason != "" {
			fail("serial-number: %s", reason)
			continue
		}
		if first, dup := seen[r.serial]; dup {
			fail("serial-number repeats line %d", first)
			continue
		}
		seen[r.serial] = r.line
		if reason := checkProduct(r.product); reason != "" {
			fail("product: %s", reason)
			continue
		}
		d := Device{SerialNumber: r.serial, Product: r.product, Status: DeviceActive, CreatedAt: now, UpdatedAt: now}
		if r.idevid != "" {
			der, err := base64.StdEncoding.DecodeString(r.idevid)
			if err != nil {
				fail("idevid: not base64")
				continue
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				fail("idevid: not a certificate: %v", err)
				continue
			}
			if sn, err := voucher.SerialFromX520(cert); err != nil || sn != r.serial {
				fail("idevid: subject serialNumber %q is not the row's serial-number", sn)
				continue
			}
			if err := cert.CheckSignatureFrom(s.cfg.IDevIDCA); err != nil {
				fail("idevid: not issued by this MASA's IDevID CA")
				continue
			}
			d.IDevID = der
		}
		devices = append(devices, d)
		serials = append(serials, r.serial)
	}
	existing, err := s.store.ExistingSerials(ctx, serials)
	if err != nil {
		return 0, err
	}
	for _, d := range devices {
		if existing[d.SerialNumber] {
			bad = append(bad, RowError{Line: seen[d.SerialNumber], Serial: d.SerialNumber, Reason: "serial-number is already registered"})
		}
	}
	if len(bad) > 0 {
		sortRowErrors(bad)
		return 0, &ImportError{Rows: bad}
	}
	err = s.store.ImportDevices(ctx, devices, AuditEvent{At: now, Actor: actor, Action: "device.import",
		Detail: map[string]any{"format": format, "devices": len(devices)}})
	if errors.Is(err, ErrDuplicate) {
		return 0, Conflict("a device of this import was registered concurrently; nothing was imported")
	}
	if err != nil {
		return 0, err
	}
	return len(devices), nil
}

func sortRowErrors(rs []RowError) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Line < rs[j-1].Line; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func parseImportCSV(body []byte) ([]importRow, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, Unprocessable("CSV: cannot read the header line: %v", err)
	}
	if got := strings.TrimPrefix(strings.Join(header, ","), "\ufeff"); got != ImportCSVHeader {
		return nil, Unprocessable("CSV header must be %q (schema version %d), got %q", ImportCSVHeader, ImportVersion, got)
	}
	var rows []importRow
	var bad []RowError
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A syntax error ends the parse: the reader cannot resync.
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, &ImportError{Rows: append(bad, RowError{Line: line, Reason: "CSV syntax: " + err.Error()})}
		}
		line, _ := r.FieldPos(0)
		if len(rec) != 3 {
			bad = append(bad, RowError{Line: line, Reason: fmt.Sprintf("has %d fields, want 3 (%s)", len(rec), ImportCSVHeader)})
			continue
		}
		rows = append(rows, importRow{line: line, serial: rec[0], product: rec[1], idevid: rec[2]})
		if len(rows) > MaxImportRows {
			break
		}
	}
	if len(bad) > 0 {
		return nil, &ImportError{Rows: bad}
	}
	return rows, nil
}

type importJSONDevice struct {
	SerialNumber string `json:"serial-number"`
	Product      string `json:"product"`
	IDevID       string `json:"idevid"`
}

func parseImportJSON(body []byte) ([]importRow, error) {
	var env struct {
		Version *int            `json:"version"`
		Devices json.RawMessage `json:"devices"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, BadRequest("JSON: %v", err)
	}
	if env.Version == nil || *env.Version != ImportVersion {
		return nil, Unprocessable(`import "version" must be %d`, ImportVersion)
	}
	if len(env.Devices) == 0 {
		return nil, Unprocessable(`import has no "devices" array`)
	}
	// Walk the array with a decoder to know each element's line.
	base := bytes.Index(body, env.Devices)
	dec := json.NewDecoder(bytes.NewReader(env.Devices))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, Unprocessable(`"devices" must be an array`)
	}
	var rows []importRow
	var bad []RowError
	for dec.More() {
		off := int(dec.InputOffset())
		// Skip the separator and blanks to the element's first byte.
		for off < len(env.Devices) && strings.ContainsRune(", \t\r\n", rune(env.Devices[off])) {
			off++
		}
		line := 1 + bytes.Count(body[:base+off], []byte("\n"))
		var d importJSONDevice
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return nil, BadRequest("JSON: %v", err)
			}
			bad = append(bad, RowError{Line: line, Reason: err.Error()})
			continue
		}
		rows = append(rows, importRow{line: line, serial: d.SerialNumber, product: d.Product, idevid: d.IDevID})
		if len(rows) > MaxImportRows {
			break
		}
	}
	if len(bad) > 0 {
		return nil, &ImportError{Rows: bad}
	}
	return rows, nil
}
