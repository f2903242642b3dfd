package adminapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// Page is one page of a keyset-paginated list. Next is the cursor of the
// following page (passed back as ?cursor=), absent on the last one.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// PageOf trims rows fetched with limit+1 to limit and sets Next from the
// sort key of the last item kept, so that the last page has no Next.
func PageOf[T any](rows []T, limit int, key func(T) []any) Page[T] {
	p := Page[T]{Items: rows}
	if p.Items == nil {
		p.Items = []T{}
	}
	if len(rows) > limit {
		p.Items = rows[:limit]
		p.Next = EncodeCursor(key(rows[limit-1])...)
	}
	return p
}

// EncodeCursor makes an opaque cursor of a sort key: base64url of a JSON
// array.
func EncodeCursor(key ...any) string {
	b, _ := json.Marshal(key)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor fills dst (pointers) from c and reports whether c named a
// position; an empty c leaves dst alone, a malformed one is a 400.
func DecodeCursor(c string, dst ...any) (bool, error) {
	if c == "" {
		return false, nil
	}
	bad := Errorf(http.StatusBadRequest, "malformed cursor")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return false, bad
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) != len(dst) {
		return false, bad
	}
	for i, p := range parts {
		if err := json.Unmarshal(p, dst[i]); err != nil {
			return false, bad
		}
	}
	return true, nil
}
