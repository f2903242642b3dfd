package httpmsg

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name, in string
		err      error
		method   string
		target   string
		body     string
	}{
		{name: "get", in: "GET /.well-known/est/cacerts HTTP/1.1\nHost: reg.example\n\n", method: "GET", target: "/.well-known/est/cacerts"},
		{name: "post with body", in: "POST /.well-known/brski/requestvoucher HTTP/1.1\nHost: reg.example\nContent-Type: application/voucher-cms+json\nContent-Length: 4\n\nabcd", method: "POST", target: "/.well-known/brski/requestvoucher", body: "abcd"},
		{name: "query", in: "GET /a%20b?x=1&y=2 HTTP/1.1\nHost: h\n\n", method: "GET", target: "/a%20b?x=1&y=2"},
		{name: "connection ignored", in: "GET / HTTP/1.1\nHost: h\nConnection: close, X-Hop\nX-Hop: 1\n\n", method: "GET", target: "/"},
		{name: "absolute-form", in: "GET http://h/ HTTP/1.1\nHost: h\n\n", err: ErrMalformed},
		{name: "asterisk-form", in: "OPTIONS * HTTP/1.1\nHost: h\n\n", err: ErrMalformed},
		{name: "no host", in: "GET / HTTP/1.1\n\n", err: ErrMalformed},
		{name: "two hosts", in: "GET / HTTP/1.1\nHost: a\nHost: b\n\n", err: ErrMalformed},
		{name: "HTTP/1.0", in: "GET / HTTP/1.0\nHost: h\n\n", err: ErrMalformed},
		{name: "chunked", in: "POST / HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n\n1\na\n0\n\n", err: ErrMalformed},
		{name: "expect", in: "POST / HTTP/1.1\nHost: h\nExpect: 100-continue\nContent-Length: 1\n\na", err: ErrMalformed},
		{name: "upgrade", in: "GET / HTTP/1.1\nHost: h\nUpgrade: websocket\n\n", err: ErrMalformed},
		{name: "short body", in: "POST / HTTP/1.1\nHost: h\nContent-Length: 5\n\nabc", err: ErrMalformed},
		{name: "trailing bytes", in: "POST / HTTP/1.1\nHost: h\nContent-Length: 1\n\nab", err: ErrMalformed},
		{name: "two requests", in: "GET / HTTP/1.1\nHost: h\n\nGET / HTTP/1.1\nHost: h\n\n", err: ErrMalformed},
		{name: "body without length", in: "GET / HTTP/1.1\nHost: h\n\nabc", err: ErrMalformed},
		{name: "too large", in: "POST / HTTP/1.1\nHost: h\nContent-Length: 2000000\n\n", err: ErrTooLarge},
		{name: "truncated head", in: "GET / HTTP/1.1\nHost: h\n", err: ErrMalformed},
		{name: "empty", in: "", err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ReadRequest(crlf(tt.in))
			if !readAsExpected(t, err, tt.err) {
				return
			}
			if req.Method != tt.method || req.RequestURI != tt.target || req.URL.RequestURI() != tt.target {
				t.Errorf("got %s %s (%s)", req.Method, req.RequestURI, req.URL.RequestURI())
			}
			body, _ := io.ReadAll(req.Body)
			if string(body) != tt.body || req.ContentLength != int64(len(tt.body)) {
				t.Errorf("body %q length %d, want %q", body, req.ContentLength, tt.body)
			}
			if req.Header.Get("Connection") != "" || req.Header.Get("X-Hop") != "" || req.Close {
				t.Errorf("Connection fields kept: %v", req.Header)
			}
		})
	}
}

func TestReadRequestLimit(t *testing.T) {
	in := crlf("POST / HTTP/1.1\nHost: h\nContent-Length: 11\n\nhello world")
	if _, err := ReadRequestLimit(in, 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if _, err := ReadRequestLimit(in, 11); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRequest(t *testing.T) {
	u, _ := url.Parse("https://reg.example:8443/.well-known/est/simpleenroll?a=b")
	r := &http.Request{Method: "POST", URL: u, Header: http.Header{
		"Content-Type": {"application/pkcs10"}, "Connection": {"keep-alive"}, "Transfer-Encoding": {"chunked"}, "Content-Length": {"99"},
	}, Body: io.NopCloser(strings.NewReader("MIIB"))}
	got, err := WriteRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	want := crlf("POST /.well-known/est/simpleenroll?a=b HTTP/1.1\nHost: reg.example:8443\nContent-Length: 4\nContent-Type: application/pkcs10\n\nMIIB")
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	back, err := ReadRequest(got)
	if err != nil {
		t.Fatal(err)
	}
	if back.Host != "reg.example:8443" || back.Header.Get("Content-Type") != "application/pkcs10" {
		t.Errorf("round trip: %+v", back)
	}

	// A POST without a body still declares its length.
	r2, _ := http.NewRequest("POST", "https://h/x", nil)
	got, _ = WriteRequest(r2)
	if want := crlf("POST /x HTTP/1.1\nHost: h\nContent-Length: 0\n\n"); !bytes.Equal(got, want) {
		t.Errorf("got %q", got)
	}

	bad := []*http.Request{
		{Method: "GET", URL: &url.URL{Path: "/"}},                                                    // no host
		{Method: "G T", URL: &url.URL{Path: "/"}, Host: "h"},                                         // method
		{Method: "GET", URL: &url.URL{Path: "/"}, Host: "h", Header: http.Header{"Expect": {"100"}}}, // expect
		{Method: "GET", URL: &url.URL{Path: "/"}, Host: "h", Header: http.Header{"X": {"a\r\nb"}}},   // value
		{Method: "GET", URL: &url.URL{Path: "/"}, Host: "h", Header: http.Header{"X Y": {"a"}}},      // name
		{Method: "GET", URL: &url.URL{Path: "/"}, Host: "h\r\nX: y"},                                 // host
		{Method: "GET", URL: &url.URL{Opaque: "x"}, Host: "h"},                                       // not origin-form
	}
	for i, r := range bad {
		if _, err := WriteRequest(r); err == nil {
			t.Errorf("bad request %d accepted", i)
		}
	}
}

func TestReadResponse(t *testing.T) {
	get, _ := http.NewRequest("GET", "https://h/", nil)
	head, _ := http.NewRequest("HEAD", "https://h/", nil)
	tests := []struct {
		name, in string
		req      *http.Request
		err      error
		status   int
		body     string
	}{
		{name: "200", in: "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nok", req: get, status: 200, body: "ok"},
		{name: "nil request", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", status: 200, body: "ok"},
		{name: "204", in: "HTTP/1.1 204 No Content\n\n", req: get, status: 204},
		{name: "304", in: "HTTP/1.1 304 Not Modified\n\n", req: get, status: 304},
		{name: "head", in: "HTTP/1.1 200 OK\nContent-Length: 10\n\n", req: head, status: 200},
		{name: "202 empty", in: "HTTP/1.1 202 Accepted\nRetry-After: 5\nContent-Length: 0\n\n", req: get, status: 202},
		{name: "1xx", in: "HTTP/1.1 100 Continue\n\n", req: get, err: ErrMalformed},
		{name: "close-delimited", in: "HTTP/1.1 200 OK\n\nabc", req: get, err: ErrMalformed},
		{name: "chunked", in: "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n1\na\n0\n\n", req: get, err: ErrMalformed},
		{name: "204 with body", in: "HTTP/1.1 204 No Content\n\nx", req: get, err: ErrMalformed},
		{name: "trailing", in: "HTTP/1.1 200 OK\nContent-Length: 1\n\nab", req: get, err: ErrMalformed},
		{name: "short", in: "HTTP/1.1 200 OK\nContent-Length: 3\n\nab", req: get, err: ErrMalformed},
		{name: "HTTP/1.0", in: "HTTP/1.0 200 OK\nContent-Length: 0\n\n", req: get, err: ErrMalformed},
		{name: "too large", in: "HTTP/1.1 200 OK\nContent-Length: 9999999\n\n", req: get, err: ErrTooLarge},
		{name: "status 600", in: "HTTP/1.1 600 X\nContent-Length: 0\n\n", req: get, err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ReadResponse(crlf(tt.in), tt.req)
			if !readAsExpected(t, err, tt.err) {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || string(body) != tt.body {
				t.Errorf("got %d %q", resp.StatusCode, body)
			}
		})
	}
}

func TestWriteResponse(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		head   bool
		want   string
	}{
		{name: "200", status: 200, header: http.Header{"Content-Type": {"application/pkcs7-mime"}, "Connection": {"close"}}, body: "MIIC",
			want: "HTTP/1.1 200 OK\nContent-Length: 4\nContent-Type: application/pkcs7-mime\n\nMIIC"},
		{name: "204 drops body", status: 204, body: "x", want: "HTTP/1.1 204 No Content\n\n"},
		{name: "head", status: 200, body: "abc", head: true, want: "HTTP/1.1 200 OK\nContent-Length: 3\n\n"},
		{name: "chunked replaced", status: 500, header: http.Header{"Transfer-Encoding": {"chunked"}}, body: "e",
			want: "HTTP/1.1 500 Internal Server Error\nContent-Length: 1\n\ne"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendResponse(nil, tt.status, tt.header, []byte(tt.body), tt.head)
			if err != nil {
				t.Fatal(err)
			}
			if want := crlf(tt.want); !bytes.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			method := "GET"
			if tt.head {
				method = "HEAD"
			}
			req, _ := http.NewRequest(method, "https://h/", nil)
			if _, err := ReadResponse(got, req); err != nil {
				t.Fatalf("own output rejected: %v", err)
			}
		})
	}
	for _, s := range []int{100, 101, 199, 600, 0} {
		if _, err := WriteResponse(s, nil, nil); err == nil {
			t.Errorf("status %d accepted", s)
		}
	}
}

// readAsExpected checks a read's error against the one a case wants and
// reports whether the case goes on to check what was read.
func readAsExpected(t *testing.T, err, want error) bool {
	t.Helper()
	if want != nil {
		if !errors.Is(err, want) {
			t.Fatalf("err = %v, want %v", err, want)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
