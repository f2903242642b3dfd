package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/smallstep/pkcs7"
)

// TestTransferEncodingHeader checks that every base64 answer (and each
// serverkeygen part) carries "Content-Transfer-Encoding: base64" by default
// (RFC 7030 section 4; errata 5107 lets a server omit it only when it knows
// its clients do not rely on it), none with WithoutTransferEncoding, and
// none on raw DER answers.
func TestTransferEncodingHeader(t *testing.T) {
	p := newTestPKI(t)
	idev, idevKey := p.idevid(t, "SN-CTE")
	csr := func() []byte { return makeCSR(t, idevKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-CTE"}}) }
	// An LDevID to renew.
	enrolled := do(t, newTestServer(t), "POST", est+"/simpleenroll", csr(), &Peer{Chain: idev})
	certs, err := ParseCertsOnly(enrolled.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ldev := []*x509.Certificate{certs[0], p.domainIssuer}
	ops := []struct {
		op     Operation
		method string
		body   func() []byte
		peer   *Peer
	}{
		{OpCACerts, "GET", func() []byte { return nil }, nil},
		{OpCSRAttrs, "GET", func() []byte { return nil }, &Peer{Chain: idev}},
		{OpSimpleEnroll, "POST", csr, &Peer{Chain: idev}},
		{OpSimpleReenroll, "POST", func() []byte {
			return makeCSR(t, mustKey(t), csrOpts{subject: certs[0].Subject, dns: certs[0].DNSNames})
		}, &Peer{Chain: ldev}},
		{OpServerKeyGen, "POST", csr, &Peer{Chain: idev}},
	}
	for _, mode := range []struct {
		name   string
		opts   []Option
		binary bool
		want   string
	}{
		{"default", nil, false, "base64"},
		{"WithoutTransferEncoding", []Option{WithoutTransferEncoding()}, false, ""},
		{"binary", nil, true, ""},
	} {
		s := newTestServer(t, mode.opts...)
		for _, o := range ops {
			t.Run(mode.name+"/"+string(o.op), func(t *testing.T) {
				var ctxf []func(context.Context) context.Context
				if mode.binary {
					ctxf = append(ctxf, WithBinary)
				}
				w := do(t, s, o.method, est+"/"+string(o.op), o.body(), o.peer, ctxf...)
				if w.Code != http.StatusOK {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				if o.op != OpServerKeyGen {
					if got := w.Header().Get(HeaderTransferEncoding); got != mode.want {
						t.Fatalf("Content-Transfer-Encoding %q, want %q", got, mode.want)
					}
					return
				}
				// The multipart envelope itself is not base64; its parts are.
				if got := w.Header().Get(HeaderTransferEncoding); got != "" {
					t.Errorf("multipart response has Content-Transfer-Encoding %q", got)
				}
				_, params, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
				if err != nil {
					t.Fatal(err)
				}
				mr := multipart.NewReader(w.Body, params["boundary"])
				n := 0
				for {
					part, err := mr.NextPart()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					n++
					if got := part.Header.Get(HeaderTransferEncoding); got != mode.want {
						t.Errorf("part %q: Content-Transfer-Encoding %q, want %q", part.Header.Get("Content-Type"), got, mode.want)
					}
				}
				if n != 2 {
					t.Fatalf("%d parts", n)
				}
			})
		}
	}
}

// strictClient is an EST client written to RFC 7030 as published, before
// errata 5107 and RFC 8951: it refuses a base64 body (or serverkeygen part)
// without "Content-Transfer-Encoding: base64" and decodes it with a strict
// base64 decoder, without Landfall's helpers.
type strictClient struct {
	base string
	hc   *http.Client
}

func (c *strictClient) call(method string, op Operation, csrDER []byte) (http.Header, []byte, error) {
	var body io.Reader
	if csrDER != nil {
		body = strings.NewReader(base64.StdEncoding.EncodeToString(csrDER))
	}
	req, err := http.NewRequest(method, c.base+"/"+string(op), body)
	if err != nil {
		return nil, nil, err
	}
	if csrDER != nil {
		req.Header.Set("Content-Type", MediaTypePKCS10)
		req.Header.Set("Content-Transfer-Encoding", "base64")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s: HTTP %d %s", op, resp.StatusCode, b)
	}
	return resp.Header, b, nil
}

// strictDecode is the pre-errata rule: the header must say base64.
func strictDecode(what string, h interface{ Get(string) string }, body []byte) ([]byte, error) {
	if cte := h.Get("Content-Transfer-Encoding"); !strings.EqualFold(strings.TrimSpace(cte), "base64") {
		return nil, fmt.Errorf("%s: Content-Transfer-Encoding %q, want base64", what, cte)
	}
	clean := strings.NewReplacer("\r", "", "\n", "").Replace(string(body))
	return base64.StdEncoding.DecodeString(clean)
}

func (c *strictClient) certs(method string, op Operation, csrDER []byte) ([]*x509.Certificate, error) {
	h, b, err := c.call(method, op, csrDER)
	if err != nil {
		return nil, err
	}
	der, err := strictDecode(string(op), h, b)
	if err != nil {
		return nil, err
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, err
	}
	return p7.Certificates, nil
}

func (c *strictClient) csrattrs() error {
	h, b, err := c.call("GET", OpCSRAttrs, nil)
	if err != nil {
		return err
	}
	_, err = strictDecode("csrattrs", h, b)
	return err
}

func (c *strictClient) serverkeygen(csrDER []byte) error {
	h, b, err := c.call("POST", OpServerKeyGen, csrDER)
	if err != nil {
		return err
	}
	_, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return err
	}
	mr := multipart.NewReader(bytes.NewReader(b), params["boundary"])
	var key, cert bool
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		data, _ := io.ReadAll(part)
		der, err := strictDecode("serverkeygen part", part.Header, data)
		if err != nil {
			return err
		}
		switch ct := part.Header.Get("Content-Type"); {
		case ct == MediaTypePKCS8:
			if _, err := x509.ParsePKCS8PrivateKey(der); err != nil {
				return err
			}
			key = true
		case strings.HasPrefix(ct, "application/pkcs7-mime"):
			if _, err := pkcs7.Parse(der); err != nil {
				return err
			}
			cert = true
		}
	}
	if !key || !cert {
		return fmt.Errorf("serverkeygen: key %v cert %v", key, cert)
	}
	return nil
}

// TestPreErrataClient runs every operation of a client that insists on
// Content-Transfer-Encoding over TLS: it succeeds against the default
// server, fails against WithoutTransferEncoding (so the test client really
// is strict), and Landfall's own Client succeeds against both.
func TestPreErrataClient(t *testing.T) {
	p := newTestPKI(t)
	idev, idevKey := p.idevid(t, "SN-OLD")
	csr := func() []byte { return makeCSR(t, idevKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-OLD"}}) }
	run := func(t *testing.T, s *Server) error {
		srv, roots := estOverTLS(t, s)
		dial := func(chain []*x509.Certificate) *strictClient {
			c, _ := dialEST(t, srv, roots, chain, idevKey)
			return &strictClient{base: c.BaseURL, hc: c.HTTPClient}
		}
		if _, err := dial(nil).certs("GET", OpCACerts, nil); err != nil {
			return err
		}
		if err := dial(idev).csrattrs(); err != nil {
			return err
		}
		issued, err := dial(idev).certs("POST", OpSimpleEnroll, csr())
		if err != nil {
			return err
		}
		ldev := []*x509.Certificate{issued[0], p.domainIssuer}
		if _, err := dial(ldev).certs("POST", OpSimpleReenroll, makeCSR(t, mustKey(t), csrOpts{subject: issued[0].Subject, dns: issued[0].DNSNames})); err != nil {
			return err
		}
		return dial(idev).serverkeygen(csr())
	}
	if err := run(t, newTestServer(t)); err != nil {
		t.Fatalf("pre-errata client against the default server: %v", err)
	}
	if err := run(t, newTestServer(t, WithoutTransferEncoding())); err == nil || !strings.Contains(err.Error(), "Content-Transfer-Encoding") {
		t.Fatalf("pre-errata client against WithoutTransferEncoding: %v, want a Content-Transfer-Encoding refusal", err)
	}
	for _, opts := range [][]Option{nil, {WithoutTransferEncoding()}} {
		srv, roots := estOverTLS(t, newTestServer(t, opts...))
		ctx := context.Background()
		c, _ := dialEST(t, srv, roots, idev, idevKey)
		if _, err := c.CACerts(ctx); err != nil {
			t.Fatalf("Client.CACerts %d options: %v", len(opts), err)
		}
		c, _ = dialEST(t, srv, roots, idev, idevKey)
		if _, err := c.CSRAttrs(ctx); err != nil {
			t.Fatalf("Client.CSRAttrs %d options: %v", len(opts), err)
		}
		c, _ = dialEST(t, srv, roots, idev, idevKey)
		issued, err := c.SimpleEnroll(ctx, csr())
		if err != nil {
			t.Fatalf("Client.SimpleEnroll %d options: %v", len(opts), err)
		}
		c, _ = dialEST(t, srv, roots, []*x509.Certificate{issued[0], p.domainIssuer}, idevKey)
		if _, err := c.SimpleReenroll(ctx, makeCSR(t, mustKey(t), csrOpts{subject: issued[0].Subject, dns: issued[0].DNSNames})); err != nil {
			t.Fatalf("Client.SimpleReenroll %d options: %v", len(opts), err)
		}
		c, _ = dialEST(t, srv, roots, idev, idevKey)
		if _, _, err := c.ServerKeyGen(ctx, csr()); err != nil {
			t.Fatalf("Client.ServerKeyGen %d options: %v", len(opts), err)
		}
	}
}
