package oscore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestParseOptionStrict(t *testing.T) {
	good := []struct {
		in   string
		want Option
	}{
		{"", Option{}},
		{"0914", Option{PIV: h("14"), KID: h("")}},
		{"091400", Option{PIV: h("14"), KID: h("00")}},
		{"19140837cbf3210017a2d3", Option{PIV: h("14"), KIDContext: h("37cbf3210017a2d3"), KID: h("")}},
		{"0100", Option{PIV: h("00")}},
		{"0d0102030405aabb", Option{PIV: h("0102030405"), KID: h("aabb")}},
	}
	for _, c := range good {
		o, err := ParseOption(h(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if !bytes.Equal(o.PIV, c.want.PIV) || !bytes.Equal(o.KID, c.want.KID) || !bytes.Equal(o.KIDContext, c.want.KIDContext) ||
			(o.KID == nil) != (c.want.KID == nil) {
			t.Errorf("%s: %+v, want %+v", c.in, o, c.want)
		}
		if c.in != "00" && !bytes.Equal(o.Marshal(), h(c.in)) {
			t.Errorf("%s: re-encodes as %x", c.in, o.Marshal())
		}
	}
	for _, bad := range []string{"00", "20", "40", "80", "06000000000000", "07", "02", "0001", "10", "1005aa", "0301"} {
		if _, err := ParseOption(h(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s accepted: %v", bad, err)
		}
	}
}

func TestHeaderEncoding(t *testing.T) {
	if EncodeHeader(nil) != "AA" || EncodeHeader(h("0925")) != "CSU" {
		t.Fatal("RFC 8613 11.5 example")
	}
	if v, err := DecodeHeader("AA"); err != nil || len(v) != 0 {
		t.Fatalf("AA: %x %v", v, err)
	}
	for _, bad := range []string{"", "A", "CSU=", "CS+U", "CS/U", "C SU"} {
		if _, err := DecodeHeader(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPIV(t *testing.T) {
	for _, c := range []struct {
		seq uint64
		piv string
	}{{0, "00"}, {20, "14"}, {255, "ff"}, {256, "0100"}, {MaxSequence, "ffffffffff"}} {
		if got := EncodePIV(c.seq); !bytes.Equal(got, h(c.piv)) {
			t.Errorf("%d: %x", c.seq, got)
		}
		if v, err := DecodePIV(h(c.piv)); err != nil || v != c.seq {
			t.Errorf("%s: %d %v", c.piv, v, err)
		}
	}
	if _, err := DecodePIV(h("010203040506")); err == nil {
		t.Error("6-byte PIV accepted")
	}
}

func TestSequenceExhaustion(t *testing.T) {
	c, _ := NewContext(Params{AEAD: A128GCM, MasterSecret: []byte{1}, SenderID: []byte{1}})
	c.SetSequence(MaxSequence)
	if _, _, _, err := c.ProtectRequest([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.ProtectRequest([]byte{1}); !errors.Is(err, ErrSequenceExhausted) {
		t.Fatalf("past 2^40-1: %v", err)
	}
}

func TestDeriveRejects(t *testing.T) {
	cases := []Params{
		{AEAD: 99, MasterSecret: []byte{1}},
		{AEAD: A128GCM},
		{AEAD: A128GCM, MasterSecret: []byte{1}, SenderID: make([]byte, 7)},
		{AEAD: AESCCM16_64_128, MasterSecret: []byte{1}, RecipientID: make([]byte, 8)},
	}
	for i, p := range cases {
		if _, err := Derive(p); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := Derive(Params{AEAD: AESCCM16_64_128, MasterSecret: []byte{1}, SenderID: make([]byte, 7)}); err != nil {
		t.Errorf("7-byte ID with CCM: %v", err)
	}
}

func TestMessageCodec(t *testing.T) {
	m := &Message{Code: POST, Payload: bytes.Repeat([]byte{7}, 300)}
	m.Add(OptUriPath, []byte(".well-known"))
	m.Add(OptUriPath, []byte("brski"))
	m.AddUint(OptContentFormat, 65000)
	m.Add(OptUriQuery, bytes.Repeat([]byte("q"), 400)) // two-byte extended length
	m.AddUint(OptAccept, 281)
	m.Add(300, []byte{1}) // extended delta
	b := m.Marshal()
	back, err := UnmarshalMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Marshal(), b) || !bytes.Equal(back.Payload, m.Payload) || len(back.Options) != 6 {
		t.Fatalf("round trip changed the message")
	}
	if cf, ok, _ := back.Uint(OptContentFormat); !ok || cf != 65000 {
		t.Fatalf("Content-Format %d", cf)
	}
	// Class U options (Uri-Host 3, OSCORE 9, Proxy-Uri 35) never belong in a plaintext.
	for _, bad := range []string{"", "02ff", "02f0", "020f", "02d0", "02e000", "02b4616263", "023168", "0290", "02d016"} {
		if _, err := UnmarshalMessage(h(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s accepted: %v", bad, err)
		}
	}
}

func TestTargetMapping(t *testing.T) {
	cases := []struct {
		target string
		path   []string
		query  []string
	}{
		{"/", nil, nil},
		{"/a/b", []string{"a", "b"}, nil},
		{"/a/", []string{"a", ""}, nil},
		{"/a%2Fb/c?x=1&y=%26", []string{"a/b", "c"}, []string{"x=1", "y=&"}},
		{"/s%20p/a+b?q=a+b%26c&k", []string{"s p", "a+b"}, []string{"q=a+b&c", "k"}},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, "https://r.example"+c.target, nil)
		m, err := RequestToMessage(req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Strings(OptUriPath); !equalStrings(got, c.path) {
			t.Errorf("%s: Uri-Path %q", c.target, got)
		}
		if got := m.Strings(OptUriQuery); !equalStrings(got, c.query) {
			t.Errorf("%s: Uri-Query %q", c.target, got)
		}
		back, err := MessageToRequest(context.Background(), m, "r.example")
		if err != nil {
			t.Fatal(err)
		}
		if back.RequestURI != c.target || back.URL.RequestURI() != c.target {
			t.Errorf("%s: rebuilt as %q (%q)", c.target, back.RequestURI, back.URL.RequestURI())
		}
		m2, _ := RequestToMessage(back, nil)
		if !bytes.Equal(m2.Marshal(), m.Marshal()) {
			t.Errorf("%s: round trip gives %s", c.target, back.URL)
		}
	}
	// Unknown critical options are refused, unknown elective ones ignored.
	m := &Message{Code: GET}
	m.Add(13, nil)
	if _, err := MessageToRequest(context.Background(), m, "r"); !errors.Is(err, ErrMalformed) {
		t.Errorf("critical option 13 accepted: %v", err)
	}
	m = &Message{Code: GET}
	m.Add(60, nil)
	if _, err := MessageToRequest(context.Background(), m, "r"); err != nil {
		t.Errorf("elective option 60 refused: %v", err)
	}
}

func TestContentFormats(t *testing.T) {
	for mt, want := range map[string]uint32{
		"text/plain":                                               0,
		"TEXT/Plain; Charset=UTF-8":                                0,
		`text/plain; charset="utf-8"`:                              0,
		"application/pkcs7-mime; smime-type=CERTS-ONLY":            281,
		`application/pkcs7-mime;smime-type="server-generated-key"`: 280,
		"application/voucher-cms+json":                             65000,
		"application/csrattrs":                                     285,
	} {
		if got, ok := ContentFormat(mt); !ok || got != want {
			t.Errorf("%q: %d %v", mt, got, ok)
		}
	}
	for _, mt := range []string{"text/html", "text/plain; charset=latin1", "application/pkcs7-mime", "nonsense"} {
		if _, ok := ContentFormat(mt); ok {
			t.Errorf("%q has a Content-Format", mt)
		}
	}
	// A body without a Content-Format makes the answer 5.00.
	if m := ResponseToMessage("GET", 200, http.Header{"Content-Type": {"text/html"}}, []byte("<p>")); m.Code != InternalServerError {
		t.Errorf("text/html answered %v", m.Code)
	}
	if m := ResponseToMessage("GET", 200, http.Header{"Content-Type": {"application/json"}}, []byte("{}")); m.Code != Content {
		t.Errorf("GET 200 answered %v", m.Code)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncrypt0Strict(t *testing.T) {
	good := h("d08343a10101a10441015855ed21263e597a795b5a5e13ec5f9b69038297d003f20e2b7d977c43ebf0f62003756a1c7f80698e11a9629092a0887d9087871f79eb7f00867ce0a72eb115bb584f3078140ec3a89b08bd11e2b3c280d6d27d4d13da")
	if _, err := ParseEncrypt0(good); err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"untagged":       good[1:],
		"trailing byte":  append(append([]byte{}, good...), 0),
		"truncated":      good[:len(good)-1],
		"protected a0":   h("d08341a0a104410140"),
		"two protected":  h("d08345a2010104404104410140"),
		"no kid":         h("d08343a10101a040"),
		"unknown label":  h("d08343a10101a105410140"),
		"repeated label": h("d08343a10101a20441010441024140"),
		"six-byte PIV":   h("d08343a10101a204410106460102030405064140"),
	}
	for name, b := range bad {
		if _, err := ParseEncrypt0(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s accepted: %v", name, err)
		}
	}
	for _, ct := range []string{`application/cose; cose-type="cose-encrypt0"`, "application/cose;cose-type=COSE-ENCRYPT0", "Application/COSE; Cose-Type=cose-encrypt0"} {
		if !IsCOSEMediaType(ct) {
			t.Errorf("%q refused", ct)
		}
	}
	for _, ct := range []string{"application/cose", `application/cose; cose-type="cose-sign1"`, "application/cbor"} {
		if IsCOSEMediaType(ct) {
			t.Errorf("%q accepted", ct)
		}
	}
}

func TestReplayWindowMemory(t *testing.T) {
	var w ReplayWindow
	for _, st := range []struct {
		piv uint64
		ok  bool
	}{{0, true}, {0, false}, {31, true}, {0, false}, {1, true}, {32, true}, {1, false} /* below window */, {2, true}, {100, true}, {68, false}, {69, true}} {
		if got := w.Mark(st.piv); got != st.ok {
			t.Fatalf("Mark(%d) = %v, want %v (window %+v)", st.piv, got, st.ok, w)
		}
	}
}

func TestUintOptionStrict(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
		ok   bool
		err  bool
	}{
		{in: "02", ok: false},
		{in: "02c0", want: 0, ok: true},       // Content-Format 0 is the empty value
		{in: "02c2011e", want: 286, ok: true}, // application/pkcs10
		{in: "02c2001e", err: true},           // leading zero: not the fewest bytes
		{in: "02c100", err: true},             // 0 must be empty
		{in: "02c50102030405", err: true},     // longer than 4 bytes
		{in: "02c13c00", err: true},           // repeated
		{in: "02c4ffffffff", want: 1<<32 - 1, ok: true},
	} {
		m, err := UnmarshalMessage(h(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		v, ok, err := m.Uint(OptContentFormat)
		if (err != nil) != c.err || (err == nil && (v != c.want || ok != c.ok)) {
			t.Errorf("%s: %d %v %v", c.in, v, ok, err)
		}
	}
}

func TestUnprotectRequestWrongKID(t *testing.T) {
	km := exporterOutput(32)
	cl, _ := NewContext(Params{AEAD: AESCCM16_64_128, MasterSecret: km[:16], SenderID: h("0a"), RecipientID: h("01")})
	sv, _ := NewContext(Params{AEAD: AESCCM16_64_128, MasterSecret: km[:16], SenderID: h("01"), RecipientID: h("0a")})
	optB, ct, _, err := cl.ProtectRequest([]byte{byte(GET)})
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := ParseOption(optB)
	if _, _, err := sv.UnprotectRequest(opt, ct); err != nil {
		t.Fatal(err)
	}
	for _, kid := range [][]byte{nil, h("0b"), {}} {
		o := opt
		o.KID = kid
		if _, _, err := sv.UnprotectRequest(o, ct); err == nil {
			t.Errorf("kid %x accepted", kid)
		}
	}
	obj, _, _ := cl.SealRequest([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	e, _ := ParseEncrypt0(obj)
	e.KID = h("0b")
	if _, _, err := sv.OpenRequest(e); !errors.Is(err, ErrContextNotFound) {
		t.Errorf("COSE kid mismatch: %v", err)
	}
}

// TestStatusTable is profile 5.5, row by row, and the client's way back.
func TestStatusTable(t *testing.T) {
	cases := []struct {
		method   string
		status   int
		header   http.Header
		code     Code
		maxAge   int64 // -1: absent
		back     int
		location string
	}{
		{"GET", 200, nil, Content, -1, 200, ""},
		{"POST", 200, nil, Changed, -1, 200, ""},
		{"POST", 201, http.Header{"Location": {"/est/cert%201?id=7&x=a%26b"}}, Created, -1, 201, "/est/cert%201?id=7&x=a%26b"},
		{"POST", 204, nil, Changed, -1, 200, ""},
		{"GET", 204, nil, Changed, -1, 200, ""},
		{"POST", 202, nil, ServiceUnavailable, 60, 503, ""},
		{"POST", 202, http.Header{"Retry-After": {"5"}}, ServiceUnavailable, 5, 503, ""},
		{"GET", 203, nil, Content, -1, 200, ""},
		{"POST", 206, nil, Changed, -1, 200, ""},
		{"GET", 400, nil, BadRequest, -1, 400, ""},
		{"GET", 401, nil, Unauthorized, -1, 401, ""},
		{"GET", 403, nil, Forbidden, -1, 403, ""},
		{"GET", 404, nil, NotFound, -1, 404, ""},
		{"GET", 405, nil, MethodNotAllowed, -1, 405, ""},
		{"GET", 406, nil, NotAcceptable, -1, 406, ""},
		{"POST", 413, nil, RequestEntityTooLarge, -1, 413, ""},
		{"POST", 415, nil, UnsupportedContentFormat, -1, 415, ""},
		{"GET", 409, nil, BadRequest, -1, 400, ""},
		{"GET", 429, nil, BadRequest, -1, 400, ""},
		{"GET", 500, nil, InternalServerError, -1, 500, ""},
		{"GET", 501, nil, InternalServerError, -1, 500, ""},
		{"GET", 502, nil, BadGateway, -1, 502, ""},
		{"GET", 503, http.Header{"Retry-After": {"30"}}, ServiceUnavailable, 30, 503, ""},
		{"GET", 504, nil, GatewayTimeout, -1, 504, ""},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%d", c.method, c.status), func(t *testing.T) {
			h := c.header
			if h == nil {
				h = http.Header{}
			}
			m := ResponseToMessage(c.method, c.status, h, nil)
			if m.Code != c.code {
				t.Fatalf("code %v, want %v", m.Code, c.code)
			}
			age, ok, err := m.Uint(OptMaxAge)
			if err != nil || (c.maxAge < 0) == ok || ok && int64(age) != c.maxAge {
				t.Fatalf("Max-Age %d %v %v, want %d", age, ok, err, c.maxAge)
			}
			back, err := UnmarshalMessage(m.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			resp, err := MessageToResponse(back, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.back || resp.Header.Get("Location") != c.location {
				t.Fatalf("back: %d %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if c.maxAge >= 0 && resp.Header.Get("Retry-After") != fmt.Sprint(c.maxAge) {
				t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		})
	}
}

// TestQuerySpace: a percent-encoded space is decoded into Uri-Query and
// comes back as "%20" (RFC 7252 6.5); a literal "+" is carried as "+"
// (percent-decoding only, profile 5.3).
func TestQuerySpace(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "https://r.example/x?b=x%20y&c=1+2", nil)
	m, err := RequestToMessage(req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Strings(OptUriQuery); !equalStrings(got, []string{"b=x y", "c=1+2"}) {
		t.Fatalf("Uri-Query %q", got)
	}
	back, err := MessageToRequest(context.Background(), m, "r.example")
	if err != nil {
		t.Fatal(err)
	}
	if back.RequestURI != "/x?b=x%20y&c=1+2" {
		t.Fatalf("rebuilt %q", back.RequestURI)
	}
	if back.URL.Query().Get("b") != req.URL.Query().Get("b") || back.URL.Query().Get("c") != req.URL.Query().Get("c") {
		t.Fatalf("query values differ: %v vs %v", back.URL.Query(), req.URL.Query())
	}
}
