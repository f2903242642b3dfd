package oscore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// HTTP mapping of the ATLS profile (5.2-5.6) and RFC 8613 section 11.

// MediaType is the outer Content-Type of OSCORE messages over HTTP.
const MediaType = "application/oscore"

// HeaderName is the HTTP header field carrying the OSCORE option.
const HeaderName = "OSCORE"

// contentFormats is the profile's table (5.6), keyed by normalised media
// type.
var contentFormats = map[string]uint32{
	"text/plain;charset=utf-8": 0,
	"application/octet-stream": 42,
	"application/json":         50,
	"application/cbor":         60,
	"application/pkcs7-mime;smime-type=server-generated-key": 280,
	"application/pkcs7-mime;smime-type=certs-only":           281,
	"application/pkcs8":            284,
	"application/csrattrs":         285,
	"application/pkcs10":           286,
	"application/pkix-cert":        287,
	"application/voucher+cose":     836,
	"application/voucher-cms+json": 65000,
}

var mediaTypes = func() map[uint32]string {
	m := make(map[uint32]string, len(contentFormats))
	for k, v := range contentFormats {
		m[v] = k
	}
	return m
}()

// NormalizeMediaType applies the profile's comparison rules (5.6):
// lower-cased type, subtype and parameter names, no blanks, unquoted
// values, lower-cased charset and smime-type values, and text/plain
// without parameters meaning charset=utf-8.
func NormalizeMediaType(v string) (string, error) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", err
	}
	if mt == "text/plain" && len(params) == 0 {
		params = map[string]string{"charset": "utf-8"}
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(mt)
	for _, k := range keys {
		val := params[k]
		if k == "charset" || k == "smime-type" {
			val = strings.ToLower(val)
		}
		b.WriteString(";" + k + "=" + val)
	}
	return b.String(), nil
}

// ContentFormat maps a media type to its CoAP Content-Format.
func ContentFormat(mediaType string) (uint32, bool) {
	n, err := NormalizeMediaType(mediaType)
	if err != nil {
		return 0, false
	}
	cf, ok := contentFormats[n]
	return cf, ok
}

// MediaTypeOf maps a Content-Format back to its media type.
func MediaTypeOf(cf uint32) (string, bool) {
	mt, ok := mediaTypes[cf]
	if mt == "text/plain;charset=utf-8" {
		mt = "text/plain; charset=utf-8"
	}
	return mt, ok
}

var methodCodes = map[string]Code{http.MethodGet: GET, http.MethodPost: POST, http.MethodPut: PUT, http.MethodDelete: DELETE}

// RequestToMessage builds the inner CoAP request for an HTTP request
// (profile 5.2, 5.3). body is the request body, already read.
func RequestToMessage(r *http.Request, body []byte) (*Message, error) {
	code, ok := methodCodes[r.Method]
	if !ok {
		return nil, fmt.Errorf("oscore: method %s has no CoAP code", r.Method)
	}
	m := &Message{Code: code, Payload: body}
	path := r.URL.EscapedPath()
	if path != "" && path != "/" {
		for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
			s, err := url.PathUnescape(seg)
			if err != nil {
				return nil, fmt.Errorf("oscore: path segment %q: %w", seg, err)
			}
			m.Add(OptUriPath, []byte(s))
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		cf, ok := ContentFormat(ct)
		if !ok {
			return nil, fmt.Errorf("oscore: Content-Type %q has no Content-Format", ct)
		}
		m.AddUint(OptContentFormat, cf)
	}
	if r.URL.RawQuery != "" {
		for _, item := range strings.Split(r.URL.RawQuery, "&") {
			s, err := url.PathUnescape(item) // percent-decoding only: '+' stays '+'
			if err != nil {
				return nil, fmt.Errorf("oscore: query item %q: %w", item, err)
			}
			m.Add(OptUriQuery, []byte(s))
		}
	}
	if acc := r.Header.Get("Accept"); acc != "" && acc != "*/*" {
		cf, ok := ContentFormat(acc)
		if !ok {
			return nil, fmt.Errorf("oscore: Accept %q has no Content-Format", acc)
		}
		m.AddUint(OptAccept, cf)
	}
	return m, nil
}

// ErrCriticalOption is a critical option of an inner request that the
// profile does not use, such as an inner Block1 (profile 7.8 fragments
// outside OSCORE only). MessageToRequest's error wraps it beside
// ErrMalformed.
var ErrCriticalOption = errors.New("unsupported critical option")

// RefusalMessage is the inner answer to an inner request that could not
// be read: 4.02 Bad Option for a critical option it does not support
// (RFC 7252 5.4.1), otherwise 4.00, with the reason as text/plain. The
// server protects it like any answer.
func RefusalMessage(err error) *Message {
	code := BadRequest
	if errors.Is(err, ErrCriticalOption) {
		code = BadOption
	}
	msg := &Message{Code: code, Payload: []byte(err.Error())}
	msg.AddUint(OptContentFormat, 0)
	return msg
}

// MessageToRequest turns an inner CoAP request into the *http.Request the
// inner handler serves (the inverse of RequestToMessage). Options other
// than the profile's request options are malformed when critical (odd
// numbers, RFC 7252 5.4.1) and ignored otherwise.
func MessageToRequest(ctx context.Context, m *Message, host string) (*http.Request, error) {
	var method string
	for k, v := range methodCodes {
		if v == m.Code {
			method = k
		}
	}
	if method == "" {
		return nil, fmt.Errorf("%w: code %v is not a supported request method", ErrMalformed, m.Code)
	}
	for _, o := range m.Options {
		switch o.Number {
		case OptUriPath, OptUriQuery, OptContentFormat, OptAccept:
		default:
			if o.Number&1 == 1 {
				return nil, fmt.Errorf("%w: %w %d", ErrMalformed, ErrCriticalOption, o.Number)
			}
		}
	}
	var path strings.Builder
	segs := m.Strings(OptUriPath)
	if len(segs) == 0 {
		path.WriteString("/")
	}
	for _, s := range segs {
		path.WriteString("/" + escapeSegment(s))
	}
	target := path.String()
	if qs := m.Strings(OptUriQuery); len(qs) > 0 {
		esc := make([]string, len(qs))
		for i, q := range qs {
			esc[i] = escapeQueryItem(q)
		}
		target += "?" + strings.Join(esc, "&")
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+host+target, bytes.NewReader(m.Payload))
	if err != nil {
		return nil, fmt.Errorf("%w: request target: %v", ErrMalformed, err)
	}
	req.RequestURI = target
	if len(m.Payload) == 0 {
		req.Body = http.NoBody
	}
	if cf, ok, err := m.Uint(OptContentFormat); err != nil {
		return nil, err
	} else if ok {
		mt, known := MediaTypeOf(cf)
		if !known {
			return nil, fmt.Errorf("%w: unknown Content-Format %d", ErrMalformed, cf)
		}
		req.Header.Set("Content-Type", mt)
	}
	if cf, ok, err := m.Uint(OptAccept); err != nil {
		return nil, err
	} else if ok {
		mt, known := MediaTypeOf(cf)
		if !known {
			return nil, fmt.Errorf("%w: unknown Accept %d", ErrMalformed, cf)
		}
		req.Header.Set("Accept", mt)
	}
	return req, nil
}

// escapeQueryItem percent-encodes one Uri-Query or Location-Query value as
// RFC 7252 6.5 step 9 does: "/" and "?" stay, "&" does not, a literal "+"
// stays "+" (the option was percent-decoded only, profile 5.3) and a space
// becomes "%20".
func escapeQueryItem(q string) string { return escapeOption(q, "/?") }

// escapeSegment percent-encodes one Uri-Path or Location-Path value.
func escapeSegment(p string) string { return escapeOption(p, "") }

// escapeOption percent-encodes an option value the way RFC 7252 6.5
// (steps 8 and 9) rebuilds a URI: every byte outside unreserved,
// sub-delims (less "&"), ":", "@" and the extra characters becomes %XX.
// A literal "+" therefore stays "+", and what percent-decoding produced
// is reproduced.
func escapeOption(v, extra string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("-._~!$'()*+,;=:@", c) >= 0, strings.IndexByte(extra, c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// statusCodes is the profile's status mapping (5.5), 2xx aside.
var statusCodes = map[int]Code{
	400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
	406: NotAcceptable, 413: RequestEntityTooLarge, 415: UnsupportedContentFormat,
	500: InternalServerError, 502: BadGateway, 503: ServiceUnavailable, 504: GatewayTimeout,
}

// ResponseToMessage maps an inner HTTP response to the CoAP response
// (profile 5.4-5.6). A body whose media type has no Content-Format makes
// the answer 5.00.
func ResponseToMessage(method string, status int, header http.Header, body []byte) *Message {
	m := &Message{}
	if status >= 200 && status < 300 && status != http.StatusCreated && status != http.StatusAccepted && status != http.StatusNoContent {
		status = http.StatusOK // profile 5.5: any other 2xx as 200
	}
	switch {
	case status == http.StatusOK && method == http.MethodGet:
		m.Code = Content
	case status == http.StatusCreated:
		m.Code = Created
		if loc := header.Get("Location"); loc != "" {
			if u, err := url.Parse(loc); err == nil {
				p := strings.TrimPrefix(u.Path, "/")
				if p != "" {
					for _, seg := range strings.Split(p, "/") {
						m.Add(OptLocationPath, []byte(seg))
					}
				}
				if u.RawQuery != "" {
					for _, q := range strings.Split(u.RawQuery, "&") {
						if s, err := url.PathUnescape(q); err == nil {
							m.Add(OptLocationQuery, []byte(s))
						}
					}
				}
			}
		}
	case status == http.StatusAccepted:
		m.Code = ServiceUnavailable
		m.AddUint(OptMaxAge, retryAfter(header, 60))
	case status >= 200 && status < 300:
		m.Code = Changed
	default:
		c, ok := statusCodes[status]
		switch {
		case ok:
			m.Code = c
		case status >= 500:
			m.Code = InternalServerError
		default:
			m.Code = BadRequest
		}
		if status == http.StatusServiceUnavailable && header.Get("Retry-After") != "" {
			m.AddUint(OptMaxAge, retryAfter(header, 60))
		}
	}
	if len(body) > 0 {
		ct := header.Get("Content-Type")
		if ct == "" {
			ct = "application/octet-stream"
		}
		cf, ok := ContentFormat(ct)
		if !ok {
			return &Message{Code: InternalServerError}
		}
		m.AddUint(OptContentFormat, cf)
		m.Payload = body
	}
	return m
}

func retryAfter(h http.Header, def uint32) uint32 {
	if s, err := strconv.ParseUint(h.Get("Retry-After"), 10, 32); err == nil {
		return uint32(s)
	}
	return def
}

// httpStatus is the inverse of the status mapping, for clients.
var httpStatus = map[Code]int{
	Created: 201, Deleted: 200, Changed: 200, Content: 200,
	BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, MethodNotAllowed: 405,
	NotAcceptable: 406, RequestEntityTooLarge: 413, UnsupportedContentFormat: 415,
	InternalServerError: 500, BadGateway: 502, ServiceUnavailable: 503, GatewayTimeout: 504,
}

// MessageToResponse turns an inner CoAP response into an *http.Response
// for the client: 5.03 with Max-Age becomes 503 with Retry-After, so a
// pledge retries both a "pending" 202 and an overloaded server alike.
func MessageToResponse(m *Message, req *http.Request) (*http.Response, error) {
	if m.Code.IsRequest() || m.Code>>5 < 2 {
		return nil, fmt.Errorf("%w: %v is not a response code", ErrMalformed, m.Code)
	}
	status, ok := httpStatus[m.Code]
	if !ok {
		status = int(m.Code>>5)*100 + 0
	}
	resp := &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        make(http.Header),
		Body:          io.NopCloser(bytes.NewReader(m.Payload)),
		ContentLength: int64(len(m.Payload)),
		Request:       req,
	}
	if cf, ok, err := m.Uint(OptContentFormat); err != nil {
		return nil, err
	} else if ok {
		if mt, known := MediaTypeOf(cf); known {
			resp.Header.Set("Content-Type", mt)
		}
	}
	if age, ok, _ := m.Uint(OptMaxAge); ok && m.Code == ServiceUnavailable {
		resp.Header.Set("Retry-After", strconv.Itoa(int(age)))
	}
	if segs := m.Strings(OptLocationPath); len(segs) > 0 {
		for i, s := range segs {
			segs[i] = escapeSegment(s)
		}
		loc := "/" + strings.Join(segs, "/")
		if qs := m.Strings(OptLocationQuery); len(qs) > 0 {
			for i, q := range qs {
				qs[i] = escapeQueryItem(q)
			}
			loc += "?" + strings.Join(qs, "&")
		}
		resp.Header.Set("Location", loc)
	}
	return resp, nil
}
