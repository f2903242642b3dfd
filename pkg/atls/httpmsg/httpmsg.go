// Package httpmsg is the codec of the inner HTTP/1.1 messages of Landfall's
// ATLS profile (ATLS-PROFILE.md section 3.2): one complete request or
// response held in a byte slice, as carried in TLS records (records mode,
// profile 3) or in a COSE_Encrypt0 plaintext (COSE mode, profile 6).
//
// The profile narrows HTTP/1.1 (RFC 9112) to what a byte slice can carry
// unambiguously:
//
//   - a request has a request line with an origin-form target (RFC 9112
//     3.2.1), a Host header and, when it has a body, Content-Length; it
//     never carries Transfer-Encoding, Expect or Upgrade;
//   - a response has a status line, is never a 1xx interim response, and
//     carries Content-Length unless it is 204 or 304 or answers HEAD; it is
//     never chunked or close-delimited;
//   - Connection header fields are ignored (removed on read and on write).
//
// Readers are strict: the slice must hold exactly one message, nothing
// after its body, and bodies are bounded by a limit (DefaultMaxBody unless
// a *Limit function is used). Writers always produce messages that the
// readers accept, with header fields in sorted order, so that a message is
// serialised deterministically.
package httpmsg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// DefaultMaxBody bounds the body of a message read with ReadRequest or
// ReadResponse.
const DefaultMaxBody = 1 << 20

var (
	// ErrMalformed is returned for a message that is not one complete
	// HTTP/1.1 message within profile 3.2.
	ErrMalformed = errors.New("httpmsg: malformed inner HTTP/1.1 message")
	// ErrTooLarge is returned for a body above the limit.
	ErrTooLarge = errors.New("httpmsg: inner HTTP/1.1 body too large")
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// framing lists the header fields a writer replaces with the profile's own
// framing and a reader refuses or drops.
var framing = []string{"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Trailer", "Te", "Proxy-Connection"}

// ReadRequest parses b as exactly one inner request (profile 3.2) with a
// body of at most DefaultMaxBody bytes.
func ReadRequest(b []byte) (*http.Request, error) { return ReadRequestLimit(b, DefaultMaxBody) }

// ReadRequestLimit is ReadRequest with a body limit of maxBody bytes. The
// returned request has RequestURI set, as a server's would, a Body that can
// be read again through GetBody, and ContentLength equal to the body's
// length.
func ReadRequestLimit(b []byte, maxBody int64) (*http.Request, error) {
	rd := bytes.NewReader(b)
	br := bufio.NewReader(rd)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, malformed("%v", err)
	}
	switch {
	case req.ProtoMajor != 1 || req.ProtoMinor != 1:
		return nil, malformed("protocol %q, want HTTP/1.1", req.Proto)
	case len(req.TransferEncoding) > 0 || req.Header.Get("Transfer-Encoding") != "":
		return nil, malformed("Transfer-Encoding in an inner request")
	case len(req.Header.Values("Expect")) > 0:
		return nil, malformed("Expect in an inner request")
	case len(req.Header.Values("Upgrade")) > 0:
		return nil, malformed("Upgrade in an inner request")
	case len(req.Trailer) > 0 || len(req.Header.Values("Trailer")) > 0:
		return nil, malformed("Trailer in an inner request")
	case req.RequestURI == "" || req.RequestURI[0] != '/':
		return nil, malformed("request target %q is not in origin-form", req.RequestURI)
	case len(req.Header.Values("Host")) > 0:
		// net/http moves the field to req.Host; a second one would be here.
		return nil, malformed("repeated Host")
	case req.Host == "":
		return nil, malformed("no Host")
	case req.ContentLength < 0:
		return nil, malformed("request body without Content-Length")
	case req.ContentLength > maxBody:
		return nil, fmt.Errorf("%w: Content-Length %d above %d", ErrTooLarge, req.ContentLength, maxBody)
	}
	body, err := readBody(req.Body, req.ContentLength)
	if err != nil {
		return nil, err
	}
	if br.Buffered() > 0 || rd.Len() > 0 {
		return nil, malformed("%d bytes after the request", br.Buffered()+rd.Len())
	}
	dropConnection(req.Header)
	req.Close = false
	setRequestBody(req, body)
	return req, nil
}

// readBody reads exactly n bytes of a body whose length was declared.
func readBody(r io.ReadCloser, n int64) ([]byte, error) {
	if r == nil || n == 0 {
		return nil, nil
	}
	defer r.Close()
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, malformed("body shorter than Content-Length: %v", err)
	}
	return body, nil
}

func setRequestBody(req *http.Request, body []byte) {
	req.ContentLength = int64(len(body))
	if len(body) == 0 {
		req.Body = http.NoBody
		req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// dropConnection removes Connection and the fields it nominates (RFC 9110
// 7.6.1): the profile ignores them, since an inner message has no
// connection of its own.
func dropConnection(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	h.Del("Connection")
	h.Del("Keep-Alive")
	h.Del("Proxy-Connection")
}

// WriteRequest serialises r as an inner request (profile 3.2), reading its
// body (at most DefaultMaxBody bytes). The target is r.URL in origin-form,
// Host is r.Host or else r.URL.Host, and Content-Length is set when there
// is a body or the method is POST, PUT or PATCH. Framing fields of
// r.Header are replaced; Expect and Upgrade are refused.
func WriteRequest(r *http.Request) ([]byte, error) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, DefaultMaxBody+1))
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("httpmsg: reading request body: %w", err)
		}
		if len(body) > DefaultMaxBody {
			return nil, ErrTooLarge
		}
	}
	return AppendRequest(nil, r, body)
}

// AppendRequest appends the inner request r with the given body (r.Body is
// not read) to dst.
func AppendRequest(dst []byte, r *http.Request, body []byte) ([]byte, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	if !isToken(method) {
		return nil, fmt.Errorf("httpmsg: invalid method %q", method)
	}
	if r.URL == nil {
		return nil, errors.New("httpmsg: request without URL")
	}
	target := r.URL.RequestURI()
	if target == "" || target[0] != '/' {
		return nil, fmt.Errorf("httpmsg: target %q cannot be put in origin-form", target)
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n") {
		return nil, fmt.Errorf("httpmsg: invalid Host %q", host)
	}
	if strings.ContainsAny(target, " \t\r\n") {
		return nil, fmt.Errorf("httpmsg: invalid target %q", target)
	}
	if len(r.Header.Values("Expect")) > 0 || len(r.Header.Values("Upgrade")) > 0 {
		return nil, errors.New("httpmsg: inner requests must not carry Expect or Upgrade")
	}
	h, err := cleanHeader(r.Header)
	if err != nil {
		return nil, err
	}
	h.Del("Host")
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\n"...)
	dst = appendHeader(dst, h)
	dst = append(dst, "\r\n"...)
	return append(dst, body...), nil
}

// ReadResponse parses b as exactly one inner response (profile 3.2) to req
// (which may be nil for a GET) with a body of at most DefaultMaxBody bytes.
func ReadResponse(b []byte, req *http.Request) (*http.Response, error) {
	return ReadResponseLimit(b, req, DefaultMaxBody)
}

// ReadResponseLimit is ReadResponse with a body limit of maxBody bytes. The
// returned response's Body is fully buffered and ContentLength is its
// length (for HEAD, the declared length).
func ReadResponseLimit(b []byte, req *http.Request, maxBody int64) (*http.Response, error) {
	rd := bytes.NewReader(b)
	br := bufio.NewReader(rd)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, malformed("%v", err)
	}
	head := req != nil && req.Method == http.MethodHead
	noBody := resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
	switch {
	case resp.ProtoMajor != 1 || resp.ProtoMinor != 1:
		return nil, malformed("protocol %q, want HTTP/1.1", resp.Proto)
	case resp.StatusCode < 200 || resp.StatusCode > 599:
		return nil, malformed("status %d", resp.StatusCode)
	case len(resp.TransferEncoding) > 0 || resp.Header.Get("Transfer-Encoding") != "":
		return nil, malformed("Transfer-Encoding in an inner response")
	case len(resp.Trailer) > 0 || len(resp.Header.Values("Trailer")) > 0:
		return nil, malformed("Trailer in an inner response")
	case !noBody && !head && len(resp.Header.Values("Content-Length")) == 0:
		return nil, malformed("no Content-Length")
	case !noBody && !head && resp.ContentLength > maxBody:
		return nil, fmt.Errorf("%w: Content-Length %d above %d", ErrTooLarge, resp.ContentLength, maxBody)
	}
	var body []byte
	if !noBody && !head {
		if body, err = readBody(resp.Body, resp.ContentLength); err != nil {
			return nil, err
		}
	}
	if br.Buffered() > 0 || rd.Len() > 0 {
		return nil, malformed("%d bytes after the response", br.Buffered()+rd.Len())
	}
	dropConnection(resp.Header)
	resp.Close = false
	if !head {
		resp.ContentLength = int64(len(body))
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// WriteResponse serialises an inner response (profile 3.2) to a request
// other than HEAD.
func WriteResponse(status int, header http.Header, body []byte) ([]byte, error) {
	return AppendResponse(nil, status, header, body, false)
}

// AppendResponse appends an inner response to dst. Framing fields of header
// are replaced by Content-Length, which is omitted for 204 and 304 (whose
// body is dropped); head writes the Content-Length of body but not body
// itself, as an answer to HEAD. Status must be 200-599.
func AppendResponse(dst []byte, status int, header http.Header, body []byte, head bool) ([]byte, error) {
	if status < 200 || status > 599 {
		return nil, fmt.Errorf("httpmsg: status %d not allowed in an inner response", status)
	}
	h, err := cleanHeader(header)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNoContent || status == http.StatusNotModified {
		body = nil
	} else {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	dst = fmt.Appendf(dst, "HTTP/1.1 %03d %s\r\n", status, http.StatusText(status))
	dst = appendHeader(dst, h)
	dst = append(dst, "\r\n"...)
	if !head {
		dst = append(dst, body...)
	}
	return dst, nil
}

// cleanHeader copies h without framing and Connection-nominated fields and
// checks that every name is a token and no value holds a control
// character other than HTAB.
func cleanHeader(h http.Header) (http.Header, error) {
	c := h.Clone()
	if c == nil {
		c = http.Header{}
	}
	dropConnection(c)
	for _, k := range framing {
		c.Del(k)
	}
	for k, vs := range c {
		if !isToken(k) {
			return nil, fmt.Errorf("httpmsg: invalid header field name %q", k)
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if ch := v[i]; ch < 0x20 && ch != '\t' || ch == 0x7f {
					return nil, fmt.Errorf("httpmsg: invalid value of header field %s", k)
				}
			}
		}
	}
	return c, nil
}

// appendHeader appends the fields of h in sorted order.
func appendHeader(dst []byte, h http.Header) []byte {
	var buf bytes.Buffer
	_ = h.Write(&buf) // writes into memory: no error
	return append(dst, buf.Bytes()...)
}

// isToken reports whether s is an RFC 9110 5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
