package adminapi

import (
	"encoding/csv"
	"net/http"
)

// Export formats of a list.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// ExportFormat is json or csv, from ?format= (read through q) or else the
// Accept header; an Accept admitting neither is a 406.
func ExportFormat(r *http.Request, q *Query) (string, error) {
	switch f := q.Str("format"); f {
	case FormatJSON, FormatCSV:
		return f, nil
	case "":
	default:
		return "", Errorf(http.StatusBadRequest, "format must be json or csv")
	}
	acc := r.Header.Get("Accept")
	switch {
	case Accepts(acc, MediaJSON):
		return FormatJSON, nil
	case Accepts(acc, MediaCSV):
		return FormatCSV, nil
	}
	return "", Errorf(http.StatusNotAcceptable, "exports are application/json or text/csv")
}

// NextCursorHeader carries a CSV page's next cursor, which a CSV body has
// no place for.
const NextCursorHeader = "X-Next-Cursor"

// WriteCSV answers with a text/csv page (RFC 4180): a header line, then
// the rows; next, when not empty, goes in NextCursorHeader.
func WriteCSV(w http.ResponseWriter, next string, header []string, rows [][]string) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	if next != "" {
		w.Header().Set(NextCursorHeader, next)
	}
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	_ = cw.WriteAll(rows)
	return nil
}

// WriteExport answers with page in format: JSON, or CSV with the header
// and one row per item.
func WriteExport[T any](w http.ResponseWriter, format string, page Page[T], header []string, row func(T) []string) error {
	if format != FormatCSV {
		return WriteJSON(w, http.StatusOK, page)
	}
	rows := make([][]string, len(page.Items))
	for i, it := range page.Items {
		rows[i] = row(it)
	}
	return WriteCSV(w, page.Next, header, rows)
}
