package registrar

import (
	"crypto/sha1" // RFC 7093 method 1, what Landfall's MASA writes without a SKI
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/pkg/voucher"
)

// auditLog is the MASA audit log of RFC 8995 5.8.1 as the registrar reads
// it. The RFC's example writes its numbers as strings ("version":"1",
// "truncated":"0"), its CDDL as uints: both are read. Members the RFC
// does not define are ignored.
type auditLog struct {
	Version    flexUint     `json:"version"`
	Events     []auditEvent `json:"events"`
	Truncation struct {
		NoncedDuplicates    flexUint `json:"nonced duplicates"`
		NoncelessDuplicates flexUint `json:"nonceless duplicates"`
		Arbitrary           flexUint `json:"arbitrary"`
	} `json:"truncation"`
}

type auditEvent struct {
	Date      string          `json:"date"`
	DomainID  string          `json:"domainID"`
	Nonce     json.RawMessage `json:"nonce"` // a string, or null for a nonceless voucher
	Assertion string          `json:"assertion"`
	Truncated flexUint        `json:"truncated"`
}

// nonceless reports whether the event's voucher had no nonce.
func (e auditEvent) nonceless() bool {
	return len(e.Nonce) == 0 || string(e.Nonce) == "null"
}

// flexUint is a non-negative integer written as a JSON number or string.
type flexUint int64

func (u *flexUint) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%s is not a non-negative integer", b)
	}
	*u = flexUint(n)
	return nil
}

// parseAuditLog reads a log and returns it with the number of vouchers it
// reports: its events and the entries its truncation counts.
func parseAuditLog(body []byte) (*auditLog, int64, error) {
	var log auditLog
	if err := json.Unmarshal(body, &log); err != nil {
		return nil, 0, fmt.Errorf("the MASA audit log is not the JSON of RFC 8995 5.8.1: %v", err)
	}
	if log.Version != 1 {
		return nil, 0, fmt.Errorf("the MASA audit log is of version %d, not 1", log.Version)
	}
	if log.Events == nil {
		return nil, 0, errors.New("the MASA audit log has no events")
	}
	for i, e := range log.Events {
		if e.DomainID == "" {
			return nil, 0, fmt.Errorf("the MASA audit log's event %d has no domainID", i)
		}
		if !e.nonceless() {
			var s string
			if err := json.Unmarshal(e.Nonce, &s); err != nil {
				return nil, 0, fmt.Errorf("the MASA audit log's event %d has a nonce that is neither a string nor null", i)
			}
		}
	}
	t := log.Truncation
	return &log, int64(len(log.Events)) + int64(t.NoncedDuplicates) + int64(t.NoncelessDuplicates) + int64(t.Arbitrary), nil
}

// Finding kinds.
const (
	findingPriorOwner = "prior-owner"
	findingNonceless  = "nonceless"
	findingTooMany    = "too-many"
)

// judgeAuditLog lists what policy objects to in log, own being this
// registrar's domainIDs (RFC 8995 5.8.2): vouchers for a domain that is
// neither own nor allowed (a prior owner, or another claimant), nonceless
// vouchers, and more vouchers than MaxVouchers.
func judgeAuditLog(log *auditLog, own map[string]bool, p AuditLogPolicy) []store.AuditFinding {
	allowed := make(map[string]bool, len(p.AllowedDomainIDs))
	for _, d := range p.AllowedDomainIDs {
		allowed[d] = true
	}
	others := make(map[string]int)
	nonceless := 0
	for _, e := range log.Events {
		if !own[e.DomainID] && !allowed[e.DomainID] {
			others[e.DomainID]++
		}
		if e.nonceless() {
			nonceless++
		}
	}
	var out []store.AuditFinding
	if len(others) > 0 {
		ids := make([]string, 0, len(others))
		for d := range others {
			ids = append(ids, d)
		}
		sort.Strings(ids)
		parts := make([]string, len(ids))
		for i, d := range ids {
			parts[i] = fmt.Sprintf("%d voucher(s) for domainID %s", others[d], d)
		}
		out = append(out, store.AuditFinding{Kind: findingPriorOwner, Detail: strings.Join(parts, ", ")})
	}
	if n := nonceless + int(log.Truncation.NoncelessDuplicates); n > 0 && !p.AllowNonceless {
		out = append(out, store.AuditFinding{Kind: findingNonceless, Detail: fmt.Sprintf("%d nonceless voucher(s) issued", n)})
	}
	t := log.Truncation
	total := len(log.Events) + int(t.NoncedDuplicates) + int(t.NoncelessDuplicates) + int(t.Arbitrary)
	if p.MaxVouchers > 0 && total > p.MaxVouchers {
		out = append(out, store.AuditFinding{Kind: findingTooMany, Detail: fmt.Sprintf("%d vouchers issued, more than %d", total, p.MaxVouchers)})
	}
	return out
}

// ownDomainIDs are the domainIDs by which this registrar recognizes itself
// in a log (RFC 8995 5.8.2: "needs to be calculated by both the MASA ...
// and the registrar"): those of the certificate the exchange's voucher
// pinned, and of every certificate of the registrar's TLS and RA chains
// and the issuers they name. A domainID is the SubjectKeyIdentifier, or
// without one the SPKI fingerprint (RFC 7469 2.4, as 5.8.2 says) or the
// RFC 7093 method 1 key hash (as some MASAs, Landfall's among them,
// write it); each is base64 as the log writes it.
func (rg *Registrar) ownDomainIDs(ex *store.Exchange) map[string]bool {
	own := make(map[string]bool)
	add := func(c *x509.Certificate) {
		if len(c.SubjectKeyId) > 0 {
			own[base64.StdEncoding.EncodeToString(c.SubjectKeyId)] = true
		}
		if len(c.AuthorityKeyId) > 0 {
			own[base64.StdEncoding.EncodeToString(c.AuthorityKeyId)] = true
		}
		fp := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		own[base64.StdEncoding.EncodeToString(fp[:])] = true
		var spki struct {
			Algorithm asn1.RawValue
			PublicKey asn1.BitString
		}
		if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err == nil {
			kh := sha1.Sum(spki.PublicKey.Bytes)
			own[base64.StdEncoding.EncodeToString(kh[:])] = true
		}
	}
	for _, chain := range [][][]byte{rg.cfg.TLSCertificate.Certificate, rg.cfg.RACertificate.Certificate} {
		for _, der := range chain {
			if c, err := x509.ParseCertificate(der); err == nil {
				add(c)
			}
		}
	}
	if pinned := pinnedDomainCert(ex.Voucher); pinned != nil {
		add(pinned)
	}
	return own
}

// pinnedDomainCert is the pinned-domain-cert of a voucher as the MASA sent
// it, in any format; nil if it has none. Its signature was verified when
// it was relayed.
func pinnedDomainCert(signed []byte) *x509.Certificate {
	f, ok := voucher.DetectFormat(signed)
	if !ok {
		return nil
	}
	sc, err := voucher.ParseAs(f, signed)
	if err != nil {
		return nil
	}
	v, err := sc.ParseVoucher()
	if err != nil || v.PinnedDomainCert == nil {
		return nil
	}
	c, err := x509.ParseCertificate(v.PinnedDomainCert)
	if err != nil {
		return nil
	}
	return c
}
