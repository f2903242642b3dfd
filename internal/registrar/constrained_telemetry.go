package registrar

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"reflect"
	"strconv"

	"github.com/fxamacker/cbor/v2"
)

// constrainedVoucherStatus is cBRSKI /vs: RFC 8995 5.7 voucher status
// telemetry in CBOR (Content-Format 60, the draft's "Status Telemetry
// Returns"), or in JSON (50), which the draft lets a registrar take too.
func (rg *Registrar) constrainedVoucherStatus(w http.ResponseWriter, r *http.Request) {
	rg.constrainedTelemetry(w, r, rg.voucherStatus)
}

// constrainedEnrollStatus is cBRSKI /es: RFC 8995 5.9.4 enrollment status
// telemetry in CBOR (60) or JSON (50).
func (rg *Registrar) constrainedEnrollStatus(w http.ResponseWriter, r *http.Request) {
	rg.constrainedTelemetry(w, r, rg.enrollStatus)
}

// constrainedTelemetry reads a CBOR status report and hands its JSON
// rendering to the JSON resource's handler, so that it is checked,
// recorded and moves the pledge on exactly as a JSON report does. The
// draft derives the CBOR form from RFC 8995's CDDL: a map keyed by the same
// text strings ("version", "status", "reason", "reason-context"). Another
// Content-Format is 415, malformed CBOR 400, both before anything is read
// of the pledge or recorded.
func (rg *Registrar) constrainedTelemetry(w http.ResponseWriter, r *http.Request, jsonHandler http.HandlerFunc) {
	cf, ok := contentFormatOf(r.Header.Get("Content-Type"))
	switch {
	case ok && cf == cfJSON:
		jsonHandler(w, r)
		return
	case !ok || cf != cfCBOR:
		rg.fail(w, r, &httpError{http.StatusUnsupportedMediaType, "status reports are application/cbor (Content-Format 60) or application/json (50)"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTelemetrySize))
	if err != nil {
		rg.fail(w, r, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("status report over %d bytes", maxTelemetrySize)})
		return
	}
	doc, err := statusReportJSON(body)
	if err != nil {
		rg.fail(w, r, &httpError{http.StatusBadRequest, err.Error()})
		return
	}
	jr := r.Clone(r.Context())
	jr.Header.Set("Content-Type", "application/json")
	jr.Body, jr.ContentLength = io.NopCloser(bytes.NewReader(doc)), int64(len(doc))
	jsonHandler(w, jr)
}

// telemetryDecoding refuses what a status report cannot be: duplicate map
// keys (the JSON reader refuses them too) and indefinite nesting.
var telemetryDecoding = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:       cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels: 16,
		DefaultMapType:  reflect.TypeOf(map[any]any(nil)),
		IndefLength:     cbor.IndefLengthAllowed,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// statusReportJSON renders a CBOR status report as the JSON object RFC
// 8995 defines. The report is a map with text keys; inside reason-context,
// whose content is free, integer keys become their decimal text (the
// draft's example keys it by 0), byte strings base64 and tags their
// content, so that any CBOR the pledge sends is recorded.
func statusReportJSON(body []byte) ([]byte, error) {
	var v any
	if err := telemetryDecoding.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("status report is not CBOR: %v", err)
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("status report is a CBOR %T, not a map", v)
	}
	out := make(map[string]any, len(m))
	for k, val := range m {
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("status report key %v is not a text string", k)
		}
		jv, err := jsonValue(val)
		if err != nil {
			return nil, fmt.Errorf("status report %q: %v", ks, err)
		}
		out[ks] = jv
	}
	return json.Marshal(out)
}

// jsonValue maps a decoded CBOR item to what encoding/json can write.
func jsonValue(v any) (any, error) {
	switch t := v.(type) {
	case nil, bool, string, uint64, int64, float64, float32:
		return t, nil
	case []byte:
		return base64.StdEncoding.EncodeToString(t), nil
	case big.Int:
		return t.String(), nil
	case cbor.Tag:
		return jsonValue(t.Content)
	case cbor.SimpleValue:
		return nil, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			jv, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = jv
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			var ks string
			switch kk := k.(type) {
			case string:
				ks = kk
			case uint64:
				ks = strconv.FormatUint(kk, 10)
			case int64:
				ks = strconv.FormatInt(kk, 10)
			default:
				return nil, fmt.Errorf("map key %v is neither text nor an integer", k)
			}
			if _, dup := out[ks]; dup {
				return nil, fmt.Errorf("map key %q appears twice", ks)
			}
			jv, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[ks] = jv
		}
		return out, nil
	}
	return nil, fmt.Errorf("CBOR item %T has no JSON rendering", v)
}
