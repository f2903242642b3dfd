package adminapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Media types the admin APIs read and write.
const (
	MediaJSON = "application/json"
	MediaCSV  = "text/csv"
)

// LimitBody caps request bodies at n bytes: a declared larger body is
// refused at once (413), an undeclared one when reading passes n.
func (rd *Renderer) LimitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				rd.Fail(w, r, &http.MaxBytesError{Limit: n})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// MediaType is the request's Content-Type without parameters, "" when
// absent or malformed.
func MediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return mt
}

// DecodeJSON reads an application/json body into v, strictly: another
// media type is a 415; malformed JSON, an unknown member or data after
// the value a 400.
func DecodeJSON(r *http.Request, v any) error {
	if MediaType(r) != MediaJSON {
		return Errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "malformed JSON: data after the object")
	}
	return nil
}

// Accepts reports whether an Accept header (RFC 9110 12.5.1) admits the
// media type offer: no header admits anything; otherwise some range with
// q > 0 must match.
func Accepts(header, offer string) bool {
	if strings.TrimSpace(header) == "" {
		return true
	}
	typ, _, _ := strings.Cut(offer, "/")
	for _, part := range strings.Split(header, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
				continue
			}
		}
		if mt == "*/*" || mt == offer || mt == typ+"/*" {
			return true
		}
	}
	return false
}
