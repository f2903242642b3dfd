package enroll

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client is the EST client a pledge uses after its voucher is accepted
// (RFC 8995 section 5.9): GET /cacerts and /csrattrs, POST /simpleenroll,
// /simplereenroll and /serverkeygen with base64 bodies (RFC 8951).
//
// HTTPClient must present the client certificate (IDevID, or the LDevID for
// re-enrollment) and trust the registrar; for ATLS it is a client whose
// transport runs over the ATLS session.
type Client struct {
	// BaseURL is the EST root, e.g. "https://registrar.example/.well-known/est".
	BaseURL string
	// Label is the optional additional path segment.
	Label string
	// HTTPClient defaults to http.DefaultClient.
	HTTPClient *http.Client
	// MaxResponseSize caps response bodies (default 1 MiB).
	MaxResponseSize int64
}

func (c *Client) url(op Operation) string {
	u := strings.TrimRight(c.BaseURL, "/")
	if c.Label != "" {
		u += "/" + c.Label
	}
	return u + "/" + string(op)
}

func (c *Client) do(ctx context.Context, method string, op Operation, body []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(encodeBase64Lines(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(op), rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", MediaTypePKCS10)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	limit := c.MaxResponseSize
	if limit <= 0 {
		limit = 1 << 20
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(b)) > limit {
		return nil, nil, fmt.Errorf("est %s: response larger than %d bytes", op, limit)
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return resp, b, nil
	}
	e := &Error{Status: resp.StatusCode, Reason: strings.TrimSpace(string(b))}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.RetryAfter = time.Until(t)
		}
	}
	return resp, nil, e
}

// CACerts fetches the CA certificates (RFC 7030 section 4.1). The caller
// must check them against its trust anchor (in BRSKI, the voucher's
// pinned-domain-cert).
func (c *Client) CACerts(ctx context.Context) ([]*x509.Certificate, error) {
	_, b, err := c.do(ctx, http.MethodGet, OpCACerts, nil)
	if err != nil {
		return nil, err
	}
	return ParseCertsOnly(b)
}

// CSRAttrs fetches the CSR attributes (RFC 7030 section 4.5); none on 204
// or 404.
func (c *Client) CSRAttrs(ctx context.Context) ([]CSRAttr, error) {
	resp, b, err := c.do(ctx, http.MethodGet, OpCSRAttrs, nil)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil, nil
	}
	return ParseCSRAttrs(b)
}

// SimpleEnroll posts csrDER and returns the issued certificate first. A
// pending request returns an *Error with Status 202 and RetryAfter.
func (c *Client) SimpleEnroll(ctx context.Context, csrDER []byte) ([]*x509.Certificate, error) {
	_, b, err := c.do(ctx, http.MethodPost, OpSimpleEnroll, csrDER)
	if err != nil {
		return nil, err
	}
	return ParseCertsOnly(b)
}

// SimpleReenroll is SimpleEnroll for /simplereenroll.
func (c *Client) SimpleReenroll(ctx context.Context, csrDER []byte) ([]*x509.Certificate, error) {
	_, b, err := c.do(ctx, http.MethodPost, OpSimpleReenroll, csrDER)
	if err != nil {
		return nil, err
	}
	return ParseCertsOnly(b)
}

// ServerKeyGen posts csrDER to /serverkeygen and returns the certificates
// and the server-generated private key.
func (c *Client) ServerKeyGen(ctx context.Context, csrDER []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	resp, b, err := c.do(ctx, http.MethodPost, OpServerKeyGen, csrDER)
	if err != nil {
		return nil, nil, err
	}
	return ParseServerKeyGen(resp.Header.Get("Content-Type"), b)
}

// ParseServerKeyGen parses a /serverkeygen multipart/mixed response (RFC
// 7030 section 4.4.2): an application/pkcs8 part and a certs-only part, in
// either order, each base64 or DER.
func ParseServerKeyGen(contentType string, body []byte) ([]*x509.Certificate, crypto.PrivateKey, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return nil, nil, fmt.Errorf("serverkeygen: unexpected content type %q", contentType)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var certs []*x509.Certificate
	var key crypto.PrivateKey
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("serverkeygen: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(p, 1<<20))
		if err != nil {
			return nil, nil, fmt.Errorf("serverkeygen: %w", err)
		}
		pmt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pmt {
		case MediaTypePKCS8:
			der, err := DecodeBody(data)
			if err != nil {
				return nil, nil, fmt.Errorf("serverkeygen key: %w", err)
			}
			if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
				return nil, nil, fmt.Errorf("serverkeygen key: %w", err)
			}
		case "application/pkcs7-mime":
			if certs, err = ParseCertsOnly(data); err != nil {
				return nil, nil, fmt.Errorf("serverkeygen: %w", err)
			}
		}
	}
	if key == nil || len(certs) == 0 {
		return nil, nil, errors.New("serverkeygen: response lacks the key or the certificate")
	}
	return certs, key, nil
}
