package sqldb

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// TimeFormat is how SQLite holds a timestamp: UTC, microseconds (what
// PostgreSQL keeps), fixed width, so that text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// FormatTime is t as SQLite holds it.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// parseTime reads a stored timestamp: TimeFormat, any RFC 3339 time, or
// SQLite's own CURRENT_TIMESTAMP text.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{TimeFormat, time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("sqldb: %q is not a timestamp", s)
}

var bytesType = reflect.TypeFor[[]byte]()

// values encodes query arguments for SQLite: times as TimeFormat text,
// slices other than byte strings and maps as JSON; the rest is left to
// database/sql.
func values(args []any) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil, []byte, string, int64, bool, driver.Valuer:
			out[i] = a
		case time.Time:
			out[i] = FormatTime(v)
		case *time.Time:
			if v != nil {
				out[i] = FormatTime(*v)
			}
		default:
			rv := reflect.ValueOf(a)
			if isJSON(rv.Type()) {
				b, err := json.Marshal(a)
				if err != nil {
					return nil, fmt.Errorf("sqldb: argument %d: %w", i+1, err)
				}
				out[i] = string(b)
				continue
			}
			out[i] = a
		}
	}
	return out, nil
}

// isJSON reports whether values of t travel as JSON: slices other than
// byte strings, and maps.
func isJSON(t reflect.Type) bool {
	return t.Kind() == reflect.Map || (t.Kind() == reflect.Slice && !t.ConvertibleTo(bytesType))
}

// scanTargets wraps the destinations values() encoded for.
func scanTargets(dest []any) []any {
	out := make([]any, len(dest))
	for i, d := range dest {
		switch p := d.(type) {
		case *time.Time:
			out[i] = timeDest{p}
		case **time.Time:
			out[i] = nullTimeDest{p}
		default:
			rv := reflect.ValueOf(d)
			if rv.Kind() == reflect.Pointer && isJSON(rv.Elem().Type()) {
				out[i] = jsonDest{d}
				continue
			}
			out[i] = d
		}
	}
	return out
}

type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	t, err := timeOf(src)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("sqldb: NULL scanned into a time.Time")
	}
	*d.t = *t
	return nil
}

type nullTimeDest struct{ t **time.Time }

func (d nullTimeDest) Scan(src any) error {
	t, err := timeOf(src)
	if err != nil {
		return err
	}
	*d.t = t
	return nil
}

func timeOf(src any) (*time.Time, error) {
	switch v := src.(type) {
	case nil:
		return nil, nil
	case time.Time:
		t := v.UTC()
		return &t, nil
	case string:
		t, err := parseTime(v)
		return &t, err
	case []byte:
		t, err := parseTime(string(v))
		return &t, err
	}
	return nil, fmt.Errorf("sqldb: %T scanned into a time.Time", src)
}

// jsonDest decodes a JSON column into a slice or map; NULL leaves it nil.
type jsonDest struct{ p any }

func (d jsonDest) Scan(src any) error {
	rv := reflect.ValueOf(d.p).Elem()
	switch v := src.(type) {
	case nil:
		rv.SetZero()
		return nil
	case string:
		return json.Unmarshal([]byte(v), d.p)
	case []byte:
		return json.Unmarshal(v, d.p)
	}
	return fmt.Errorf("sqldb: %T scanned into a %s", src, rv.Type())
}
