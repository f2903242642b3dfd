package registrar

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// MediaVoucherCMS is the media type of CMS-signed vouchers and requests
// (RFC 8995 5.2, 5.5), defined in pkg/voucher.
const MediaVoucherCMS = voucher.MediaTypeVoucherCMS

// maxVoucherSize bounds what the registrar reads from a MASA.
const maxVoucherSize = 256 << 10

// MASAClient sends registrar voucher-requests to a MASA (RFC 8995 5.5).
type MASAClient struct {
	// ClientCert authenticates the registrar to MASAs that ask (the RA
	// certificate).
	ClientCert *tls.Certificate
	// Timeout bounds one attempt; Attempts is how many are made when the
	// MASA cannot be reached or answers 5xx (other than 503 with
	// Retry-After, which is passed on); Backoff is the wait between them.
	Timeout  time.Duration
	Attempts int
	Backoff  time.Duration

	// clients keeps one HTTP client per MASA anchor, so that connections
	// are reused; nil builds a client per request.
	clients *clientCache
}

type clientCache struct {
	mu sync.Mutex
	m  map[string]*http.Client
}

// masaError is how a MASA refused: its status and reason, passed on to the
// pledge.
type masaError struct {
	status     int
	reason     string
	retryAfter time.Duration
	// answered: the MASA answered, wrongly; another attempt would get the
	// same (a voucher of another media type than asked for).
	answered bool
}

func (e *masaError) Error() string {
	return fmt.Sprintf("MASA answered %d: %s", e.status, e.reason)
}

// errMASAUnreachable: no attempt got an answer.
var errMASAUnreachable = errors.New("manufacturer's MASA unreachable")

// RequestVoucher posts a registrar voucher-request signed in format f to
// masaURL, with f's media type as its Content-Type and answer's as its
// Accept, and returns the signed voucher; a 200 of another Content-Type is
// a 502 refusal. anchor verifies the MASA's TLS certificate; nil means the
// system roots.
func (c *MASAClient) RequestVoucher(ctx context.Context, masaURL string, anchor *x509.Certificate, request []byte, f, answer voucher.Format) ([]byte, error) {
	target, err := voucherURL(masaURL)
	if err != nil {
		return nil, err
	}
	hc := c.client(anchor)
	var lastErr error
	for attempt := range max(c.Attempts, 1) {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(c.Backoff << (attempt - 1)):
			}
		}
		signed, err := c.attempt(ctx, hc, target, request, f, answer)
		var me *masaError
		if err == nil || (errors.As(err, &me) && (me.status < 500 || me.retryAfter > 0 || me.answered)) {
			return signed, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("%w: %v", errMASAUnreachable, lastErr)
}

func (c *MASAClient) attempt(ctx context.Context, hc *http.Client, target string, request []byte, f, answer voucher.Format) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(request))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", f.MediaType())
	req.Header.Set("Accept", answer.MediaType())
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxVoucherSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxVoucherSize {
		return nil, &masaError{status: http.StatusBadGateway, reason: "voucher too large"}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if got, err := voucher.FormatOfMediaType(resp.Header.Get("Content-Type")); err != nil || got != answer {
			return nil, &masaError{status: http.StatusBadGateway, answered: true,
				reason: fmt.Sprintf("MASA answered Content-Type %q to a request for %s", resp.Header.Get("Content-Type"), answer.MediaType())}
		}
		return body, nil
	case http.StatusAccepted:
		return nil, &masaError{status: http.StatusAccepted, reason: "MASA decision pending", retryAfter: retryAfter(resp, 60*time.Second)}
	}
	me := &masaError{status: resp.StatusCode, reason: strings.TrimSpace(string(body))}
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
		me.retryAfter = retryAfter(resp, 0)
	}
	return nil, me
}

// client returns the HTTP client for MASAs whose TLS chains to anchor,
// keeping connections alive across voucher requests.
func (c *MASAClient) client(anchor *x509.Certificate) *http.Client {
	key := "system roots"
	if anchor != nil {
		sum := sha256.Sum256(anchor.Raw)
		key = string(sum[:])
	}
	if c.clients != nil {
		c.clients.mu.Lock()
		defer c.clients.mu.Unlock()
		if hc, ok := c.clients.m[key]; ok {
			return hc
		}
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if anchor != nil {
		tlsConf.RootCAs = x509.NewCertPool()
		tlsConf.RootCAs.AddCert(anchor)
	}
	if c.ClientCert != nil {
		tlsConf.Certificates = []tls.Certificate{*c.ClientCert}
	}
	hc := &http.Client{Timeout: c.timeout(), Transport: &http.Transport{
		TLSClientConfig: tlsConf, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 32, IdleConnTimeout: 90 * time.Second,
	}}
	if c.clients != nil {
		if c.clients.m == nil {
			c.clients.m = make(map[string]*http.Client)
		}
		c.clients.m[key] = hc
	}
	return hc
}

func (c *MASAClient) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 10 * time.Second
}

// voucherURL is the requestvoucher resource of a MASA named by its URL
// (RFC 8995 2.3.2: the MASA URL extension holds a URI; the registrar
// appends the well-known path).
func voucherURL(masa string) (string, error) {
	if masa == "" {
		return "", &httpError{http.StatusForbidden, "no MASA URL for this pledge's manufacturer"}
	}
	if !strings.Contains(masa, "://") {
		masa = "https://" + masa
	}
	if !strings.HasPrefix(masa, "https://") {
		return "", &httpError{http.StatusForbidden, "MASA URL must be https"}
	}
	return strings.TrimSuffix(masa, "/") + voucher.PathRequestVoucher, nil
}

func retryAfter(resp *http.Response, def time.Duration) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return def
}
