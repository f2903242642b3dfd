package admin

import (
	"context"
	"io"
	"net/http"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/registrar/store"
)

// The functions in this file are what an admin API handler does beyond
// decoding its request and encoding its answer. The operator console
// (internal/console/registrarui) calls them too, so that the API stays the
// one source of truth for what a change does and refuses.

// PledgeStory is one pledge with everything recorded about it: its voucher
// exchanges, telemetry, certificates and MASA audit-log checks (GET
// /api/v1/pledges/{id}).
func PledgeStory(ctx context.Context, s Store, id int64) (PledgeDetail, error) {
	p, err := s.GetPledge(ctx, id)
	if err != nil {
		return PledgeDetail{}, err
	}
	d := PledgeDetail{Pledge: *p}
	if d.Exchanges, err = s.ListExchanges(ctx, id); err == nil {
		if d.Telemetry, err = s.ListTelemetry(ctx, id); err == nil {
			if d.Certificates, err = s.ListCertificates(ctx, id); err == nil {
				err = d.addAuditLog(ctx, s)
			}
		}
	}
	return d, err
}

// ManufacturerRequest is the body of POST and PUT /manufacturers, and the
// console's manufacturer form. Certificates are PEM or base64 DER.
type ManufacturerRequest struct {
	Name         string `json:"name"`
	IDevIDAnchor string `json:"idevid_anchor"`
	MASAURL      string `json:"masa_url"`
	MASAAnchor   string `json:"masa_anchor"`
	SerialField  string `json:"serial_field"`
	// LDevID name templates (RFC 8995 5.9.2 names; the store checks them).
	LDevIDDNSTemplate string `json:"ldevid_dns_template"`
	LDevIDURITemplate string `json:"ldevid_uri_template"`
}

// Manufacturer decodes the request's certificates; the IDevID anchor is
// required. The store checks the rest when it writes.
func (req ManufacturerRequest) Manufacturer() (store.Manufacturer, error) {
	m := store.Manufacturer{Name: req.Name, MASAURL: req.MASAURL, SerialField: req.SerialField,
		LDevIDDNSTemplate: req.LDevIDDNSTemplate, LDevIDURITemplate: req.LDevIDURITemplate}
	var err error
	if m.IDevIDAnchor, err = certificateDER("idevid_anchor", req.IDevIDAnchor); err != nil {
		return m, err
	}
	if len(m.IDevIDAnchor) == 0 {
		return m, adminapi.Errorf(http.StatusBadRequest, "idevid_anchor is required")
	}
	if m.MASAAnchor, err = certificateDER("masa_anchor", req.MASAAnchor); err != nil {
		return m, err
	}
	return m, nil
}

// ImportAllowlist parses an allow-list document of the media type (text/csv
// or application/json, format version 1) and imports it all or nothing; a
// rejected row makes a *store.ImportError naming every one (POST
// /api/v1/allowlist).
func ImportAllowlist(ctx context.Context, s Store, mediaType string, body io.Reader, actor string) (store.ImportResult, error) {
	var parse func(io.Reader) ([]store.ImportRow, error)
	switch mediaType {
	case adminapi.MediaCSV:
		parse = store.ParseAllowlistCSV
	case adminapi.MediaJSON:
		parse = store.ParseAllowlistJSON
	default:
		return store.ImportResult{}, adminapi.Errorf(http.StatusUnsupportedMediaType, "Content-Type must be text/csv or application/json")
	}
	rows, err := parse(body)
	if err != nil {
		return store.ImportResult{}, err
	}
	return s.ImportAllowlist(ctx, rows, actor)
}

// CreatedToken is a new token: the only time its secret is shown.
type CreatedToken struct {
	ID    int64      `json:"id"`
	Name  string     `json:"name"`
	Role  store.Role `json:"role"`
	Token string     `json:"token"`
}

// CreateToken makes an admin token (POST /api/v1/tokens).
func CreateToken(ctx context.Context, s Store, name string, role store.Role, actor string) (CreatedToken, error) {
	secret, err := s.CreateToken(ctx, name, role, actor)
	if err != nil {
		return CreatedToken{}, err
	}
	p, err := s.Authenticate(ctx, secret)
	if err != nil {
		return CreatedToken{}, err
	}
	return CreatedToken{ID: p.TokenID, Name: p.Name, Role: p.Role, Token: secret}, nil
}

// Classify maps the store's errors to the problems the admin API answers
// with; the console shows the same statuses and reasons.
func Classify(err error) (adminapi.Problem, bool) { return classify(err) }

// Allows is the registrar's role rule as the console asks it: whether a
// principal may do what role need may.
func Allows(p store.Principal, need string) bool { return needs(store.Role(need))(p) == nil }
