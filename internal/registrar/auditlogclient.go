package registrar

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/landfall-io/landfall/pkg/voucher"
)

// maxAuditLogSize bounds what the registrar reads of a MASA audit log.
const maxAuditLogSize = 1 << 20

// mediaJSON is the audit log's media type (RFC 8995 5.8.1).
const mediaJSON = "application/json"

// RequestAuditLog posts a registrar voucher-request, signed in format f, to
// the MASA's requestauditlog resource (RFC 8995 5.8) and returns the log as
// it came, JSON. It uses the TLS client RequestVoucher uses for the same
// MASA anchor, and makes one attempt: the check runs when the pledge
// reports its voucher status again.
func (c *MASAClient) RequestAuditLog(ctx context.Context, masaURL string, anchor *x509.Certificate, request []byte, f voucher.Format) ([]byte, error) {
	target, err := voucherURL(masaURL)
	if err != nil {
		return nil, err
	}
	target = strings.TrimSuffix(target, voucher.PathRequestVoucher) + voucher.PathRequestAuditLog
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(request))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", f.MediaType())
	req.Header.Set("Accept", mediaJSON)
	resp, err := c.client(anchor).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMASAUnreachable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAuditLogSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMASAUnreachable, err)
	}
	if len(body) > maxAuditLogSize {
		return nil, &masaError{status: http.StatusBadGateway, reason: fmt.Sprintf("audit log over %d bytes", maxAuditLogSize)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &masaError{status: resp.StatusCode, reason: strings.TrimSpace(string(body))}
	}
	return body, nil
}
