package store

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Allow-list import formats, version 1 (docs/registrar-admin.md):
//
// CSV (text/csv): RFC 4180, UTF-8. The first line is the header and names
// the version: exactly "manufacturer,serial,note" is version 1. Every
// following line is one entry: the manufacturer's name, the serial, and a
// free-text note (the column may be empty). A later version will use a
// different header, so a version-1 file is never misread.
//
// JSON (application/json):
//
//	{"version": 1, "entries": [{"manufacturer": "Acme", "serial": "A-1", "note": "rack 3"}]}
const (
	AllowlistFormatVersion = 1
	allowlistCSVHeader     = "manufacturer,serial,note"
)

// Limits of an import and of its fields.
const (
	MaxImportRows = 100000
	MaxSerialLen  = 128 // characters, as the schema's CHECK
	MaxNoteLen    = 1024
)

// ImportRow is one parsed allow-list entry and where it came from.
type ImportRow struct {
	Line         int    `json:"-"`
	Manufacturer string `json:"manufacturer"`
	Serial       string `json:"serial"`
	Note         string `json:"note"`
	bad          string // a problem found while parsing
}

// problem returns why r cannot be imported, or "".
func (r ImportRow) problem() string {
	switch {
	case r.bad != "":
		return r.bad
	case r.Manufacturer == "":
		return "manufacturer is empty"
	case r.Serial == "":
		return "serial is empty"
	case utf8.RuneCountInString(r.Serial) > MaxSerialLen:
		return fmt.Sprintf("serial is longer than %d characters", MaxSerialLen)
	case strings.IndexFunc(r.Serial, unicode.IsControl) >= 0 || strings.TrimSpace(r.Serial) != r.Serial:
		return "serial has control characters or surrounding white space"
	case utf8.RuneCountInString(r.Note) > MaxNoteLen:
		return fmt.Sprintf("note is longer than %d characters", MaxNoteLen)
	case !utf8.ValidString(r.Manufacturer + r.Serial + r.Note):
		return "not valid UTF-8"
	}
	return ""
}

// ParseAllowlistCSV reads a version-1 CSV allow-list. A malformed header
// is ErrInvalid; a malformed line becomes a row that ImportAllowlist
// rejects with its line number, beside every other bad row.
func ParseAllowlistCSV(r io.Reader) ([]ImportRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, invalidf("empty CSV: the header %q is required", allowlistCSVHeader)
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return nil, invalidf("malformed CSV header: %v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("reading CSV: %w", err) // e.g. the body limit
	}
	if h := strings.TrimPrefix(strings.Join(header, ","), "\ufeff"); h != allowlistCSVHeader {
		return nil, invalidf("CSV header must be %q (format version %d), got %q", allowlistCSVHeader, AllowlistFormatVersion, h)
	}
	var rows []ImportRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.As(err, &pe) {
			// The reader cannot resynchronise reliably after a quoting
			// error; report it and stop.
			rows = append(rows, ImportRow{Line: pe.StartLine, bad: "malformed CSV: " + pe.Err.Error()})
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading CSV: %w", err)
		}
		if len(rows) == MaxImportRows {
			return nil, invalidf("the import has more than %d entries", MaxImportRows)
		}
		line, _ := cr.FieldPos(0) // a record read without error has a field 0
		row := ImportRow{Line: line}
		switch len(rec) {
		case 3:
			row.Manufacturer, row.Serial, row.Note = strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
		default:
			row.bad = fmt.Sprintf("%d fields, want 3 (%s)", len(rec), allowlistCSVHeader)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ParseAllowlistJSON reads a JSON allow-list document; Line of each row
// is the entry's position in "entries", from 1.
func ParseAllowlistJSON(r io.Reader) ([]ImportRow, error) {
	var doc struct {
		Version *int              `json:"version"`
		Entries []json.RawMessage `json:"entries"`
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, invalidf("malformed JSON: %v", err)
	}
	if dec.More() {
		return nil, invalidf("malformed JSON: data after the document")
	}
	if doc.Version == nil || *doc.Version != AllowlistFormatVersion {
		return nil, invalidf(`"version" must be %d`, AllowlistFormatVersion)
	}
	if len(doc.Entries) > MaxImportRows {
		return nil, invalidf("the import has more than %d entries", MaxImportRows)
	}
	rows := make([]ImportRow, 0, len(doc.Entries))
	for i, raw := range doc.Entries {
		row := ImportRow{Line: i + 1}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&row); err != nil {
			row = ImportRow{Line: i + 1, bad: "malformed entry: " + err.Error()}
		}
		rows = append(rows, row)
	}
	return rows, nil
}
