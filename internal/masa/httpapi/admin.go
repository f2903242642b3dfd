package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/masa"
)

// AdminOptions configures the admin handler.
type AdminOptions struct {
	// MaxBody caps JSON request bodies (1 MiB); MaxImport caps imports (32 MiB).
	MaxBody, MaxImport int64
	Logger             *slog.Logger
	// Metrics, when set, is served at /metrics (no token: bind the admin
	// listener where only operators reach it).
	Metrics *Metrics
}

type adminAPI struct {
	svc *masa.Service
	opt AdminOptions
}

type tokenKey struct{}

// AdminHandler serves the factory and operator API under /admin/v1 and the
// health endpoints /healthz and /readyz. Every /admin/v1 call needs a
// bearer token whose role the route allows (admin is allowed everywhere).
func AdminHandler(svc *masa.Service, opt AdminOptions) http.Handler {
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	if opt.MaxImport <= 0 {
		opt.MaxImport = 32 << 20
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	a := &adminAPI{svc: svc, opt: opt}
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", a.ready)
	if opt.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", opt.Metrics.Handler())
	}
	r.Route("/admin/v1", func(r chi.Router) {
		r.Use(a.authenticate)
		read := []masa.Role{masa.RoleAuditor, masa.RoleSales, masa.RoleFactory}
		r.With(a.allow(masa.RoleFactory)).Post("/idevids", a.issueIDevID)
		r.With(a.allow(masa.RoleFactory)).Post("/devices/import", a.importDevices)
		r.With(a.allow(read...)).Get("/devices", a.listDevices)
		r.With(a.allow(read...)).Get("/devices/{serial}", a.getDevice)
		r.With(a.allow(masa.RoleSales)).Post("/devices/status", a.setStatus)
		r.With(a.allow(masa.RoleSales)).Post("/owners", a.createOwner)
		r.With(a.allow(masa.RoleSales, masa.RoleAuditor)).Get("/owners", a.listOwners)
		r.With(a.allow(masa.RoleSales)).Post("/ownership/assign", a.assign)
		r.With(a.allow(masa.RoleSales)).Post("/ownership/revoke", a.revoke)
		r.With(a.allow(masa.RoleSales)).Put("/policies/{scope}/{subject}", a.setPolicy)
		r.With(a.allow(masa.RoleSales)).Delete("/policies/{scope}/{subject}", a.deletePolicy)
		r.With(a.allow(masa.RoleAuditor, masa.RoleSales)).Get("/vouchers", a.listVouchers)
		r.With(a.allow(masa.RoleAuditor)).Get("/events", a.listEvents)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, opt.Logger, masa.NotFound("no such endpoint"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, opt.Logger, &masa.Error{Status: http.StatusMethodNotAllowed, Reason: "method not allowed"})
	})
	return r
}

func (a *adminAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeProblem(w, r, a.opt.Logger, err)
}

func (a *adminAPI) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.svc.Store().Ping(ctx); err != nil {
		a.fail(w, r, &masa.Error{Status: http.StatusServiceUnavailable, Reason: "database unavailable", Err: err})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// authenticate resolves "Authorization: Bearer <secret>" to a token (401).
func (a *adminAPI) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		const prefix = "Bearer "
		if len(h) <= len(prefix) || h[:len(prefix)] != prefix {
			a.fail(w, r, &masa.Error{Status: http.StatusUnauthorized, Reason: "bearer token required"})
			return
		}
		t, err := a.svc.Authenticate(r.Context(), h[len(prefix):])
		if err != nil {
			a.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	})
}

// allow lets the roles through (and admin always); others get 403.
func (a *adminAPI) allow(roles ...masa.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := r.Context().Value(tokenKey{}).(masa.Token)
			if t.Role != masa.RoleAdmin && !slices.Contains(roles, t.Role) {
				a.fail(w, r, masa.Forbidden("role %q may not do this", t.Role))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// actor names the token in audit events.
func actor(r *http.Request) string {
	t := r.Context().Value(tokenKey{}).(masa.Token)
	return "token:" + strconv.FormatInt(t.ID, 10) + ":" + t.Name
}

// decode reads a JSON body of at most MaxBody into v, strictly.
func (a *adminAPI) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if !contentTypeIs(r.Header.Get("Content-Type"), MediaJSON) {
		return &masa.Error{Status: http.StatusUnsupportedMediaType, Reason: "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opt.MaxBody))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return masa.BadRequest("malformed JSON: %v", err)
	}
	return nil
}

type issueRequest struct {
	CSR          string `json:"csr"`
	SerialNumber string `json:"serial-number"`
	Product      string `json:"product"`
}

type issueResponse struct {
	SerialNumber string `json:"serial-number"`
	Certificate  string `json:"certificate"` // PEM
}

// decodeCSR accepts a PKCS#10 request as PEM or base64 DER.
func decodeCSR(s string) ([]byte, error) {
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		return blk.Bytes, nil
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, masa.BadRequest("csr must be PEM or base64 DER")
	}
	return der, nil
}

func (a *adminAPI) issueIDevID(w http.ResponseWriter, r *http.Request) {
	var req issueRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	der, err := decodeCSR(req.CSR)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	cert, err := a.svc.IssueIDevID(r.Context(), masa.IssueRequest{CSR: der, SerialNumber: req.SerialNumber, Product: req.Product, Actor: actor(r)})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, issueResponse{SerialNumber: cert.Subject.SerialNumber,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))})
}

func (a *adminAPI) importDevices(w http.ResponseWriter, r *http.Request) {
	var format string
	switch ct := r.Header.Get("Content-Type"); {
	case contentTypeIs(ct, MediaJSON):
		format = "json"
	case contentTypeIs(ct, MediaCSV):
		format = "csv"
	default:
		a.fail(w, r, &masa.Error{Status: http.StatusUnsupportedMediaType, Reason: "import must be application/json or text/csv"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opt.MaxImport))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	n, err := a.svc.ImportDevices(r.Context(), format, body, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"imported": n})
}

// paging reads after and limit; CSV exports may ask for larger pages.
// idPage reads the export format and the id-keyed paging (limit, after)
// of the voucher and event listings.
func idPage(r *http.Request) (format string, limit int, after int64, err error) {
	if format, err = exportFormat(r); err != nil {
		return
	}
	if _, limit, err = paging(r, format == "csv"); err != nil {
		return
	}
	after, err = int64Param(r, "after")
	return
}

func paging(r *http.Request, csvOut bool) (string, int, error) {
	limit := 100
	max := 1000
	if csvOut {
		max = 100000
	}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > max {
			return "", 0, masa.BadRequest("limit must be 1..%d", max)
		}
		limit = n
	}
	return r.URL.Query().Get("after"), limit, nil
}

func int64Param(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, masa.BadRequest("%s must be a non-negative integer", name)
	}
	return n, nil
}

// exportFormat is "json" or "csv", from ?format= or the Accept header.
func exportFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "json", "csv":
		return f, nil
	case "":
	default:
		return "", masa.BadRequest("format must be json or csv")
	}
	acc := r.Header.Get("Accept")
	if accepts(acc, MediaJSON) {
		return "json", nil
	}
	if accepts(acc, MediaCSV) {
		return "csv", nil
	}
	return "", &masa.Error{Status: http.StatusNotAcceptable, Reason: "exports are application/json or text/csv"}
}

// Page is a page of a query; Next is the cursor for the following page.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func writeCSV(w http.ResponseWriter, next string, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	if next != "" {
		w.Header().Set("X-Next-Cursor", next)
	}
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	_ = cw.WriteAll(rows)
}

func (a *adminAPI) listDevices(w http.ResponseWriter, r *http.Request) {
	format, err := exportFormat(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	after, limit, err := paging(r, format == "csv")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	owner, err := int64Param(r, "owner-id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	status := q.Get("status")
	switch status {
	case "", "active", "disabled", "owned", "unowned":
	default:
		a.fail(w, r, masa.BadRequest("status must be active, disabled, owned or unowned"))
		return
	}
	ds, err := a.svc.Store().ListDevices(r.Context(), masa.DeviceFilter{SerialNumber: q.Get("serial-number"), OwnerID: owner,
		Status: status, Product: q.Get("product"), After: after, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	next := ""
	if len(ds) == limit {
		next = ds[len(ds)-1].SerialNumber
	}
	if format == "csv" {
		rows := make([][]string, len(ds))
		for i, d := range ds {
			rows[i] = []string{d.SerialNumber, d.Product, base64.StdEncoding.EncodeToString(d.IDevID), idOrEmpty(d.OwnerID), d.Status,
				d.CreatedAt.UTC().Format(time.RFC3339Nano), d.UpdatedAt.UTC().Format(time.RFC3339Nano)}
		}
		writeCSV(w, next, []string{"serial-number", "product", "idevid", "owner-id", "status", "created-at", "updated-at"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, Page[masa.Device]{Items: ds, Next: next})
}

func idOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// DeviceDetail is a device with its effective voucher policy.
type DeviceDetail struct {
	masa.Device
	Policy PolicyBody `json:"policy"`
}

func (a *adminAPI) getDevice(w http.ResponseWriter, r *http.Request) {
	rec, err := a.svc.Store().DeviceRecord(r.Context(), chi.URLParam(r, "serial"))
	if errors.Is(err, masa.ErrNotFound) {
		err = masa.NotFound("unknown device")
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, DeviceDetail{Device: rec.Device, Policy: policyBody(rec.Policy)})
}

type statusRequest struct {
	masa.Selection
	Status string `json:"status"`
}

func (a *adminAPI) setStatus(w http.ResponseWriter, r *http.Request) {
	var req statusRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	n, err := a.svc.SetDeviceStatus(r.Context(), req.Selection, req.Status, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"changed": n})
}

type ownerRequest struct {
	Name   string `json:"name"`
	CACert string `json:"ca-cert"` // PEM or base64 DER
}

func (a *adminAPI) createOwner(w http.ResponseWriter, r *http.Request) {
	var req ownerRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	raw, err := decodeCert(req.CACert)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	o, err := a.svc.CreateOwner(r.Context(), req.Name, raw, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

// decodeCert accepts a certificate as PEM or base64 DER.
func decodeCert(s string) ([]byte, error) {
	if blk, _ := pem.Decode([]byte(s)); blk != nil {
		return []byte(s), nil
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, masa.Unprocessable("ca-cert must be PEM or base64 DER")
	}
	return der, nil
}

func (a *adminAPI) listOwners(w http.ResponseWriter, r *http.Request) {
	os, err := a.svc.Store().ListOwners(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, Page[masa.Owner]{Items: os})
}

// assignRequest names the owner by id, or by its domain CA certificate
// (registering the owner if it is new).
type assignRequest struct {
	masa.Selection
	OwnerID int64  `json:"owner-id"`
	CACert  string `json:"ca-cert"`
	Name    string `json:"name"`
}

func (a *adminAPI) assign(w http.ResponseWriter, r *http.Request) {
	var req assignRequest
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	switch {
	case (req.OwnerID == 0) == (req.CACert == ""):
		a.fail(w, r, masa.Unprocessable("name the owner by owner-id or by ca-cert"))
		return
	case req.CACert != "":
		raw, err := decodeCert(req.CACert)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		o, err := a.svc.CreateOwner(r.Context(), req.Name, raw, actor(r))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		req.OwnerID = o.ID
	}
	changed, err := a.svc.AssignOwner(r.Context(), req.Selection, req.OwnerID, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"changed": changed})
}

func (a *adminAPI) revoke(w http.ResponseWriter, r *http.Request) {
	var req masa.Selection
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	changed, err := a.svc.RevokeOwnership(r.Context(), req, actor(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"changed": changed})
}

// PolicyBody is a voucher policy on the wire.
type PolicyBody struct {
	NoncelessAllowed   bool  `json:"nonceless-allowed"`
	MaxLifetimeSeconds int64 `json:"max-lifetime-seconds"`
	TrustOnFirstUse    bool  `json:"trust-on-first-use"`
}

func policyBody(p masa.Policy) PolicyBody {
	return PolicyBody{NoncelessAllowed: p.NoncelessAllowed, MaxLifetimeSeconds: int64(p.MaxLifetime / time.Second), TrustOnFirstUse: p.TrustOnFirstUse}
}

func (a *adminAPI) setPolicy(w http.ResponseWriter, r *http.Request) {
	var req PolicyBody
	if err := a.decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.MaxLifetimeSeconds < 0 || req.MaxLifetimeSeconds > int64(masa.MaxVoucherLifetime/time.Second) {
		a.fail(w, r, masa.Unprocessable("max-lifetime-seconds out of range"))
		return
	}
	p := masa.Policy{NoncelessAllowed: req.NoncelessAllowed, MaxLifetime: time.Duration(req.MaxLifetimeSeconds) * time.Second, TrustOnFirstUse: req.TrustOnFirstUse}
	if err := a.svc.SetPolicy(r.Context(), chi.URLParam(r, "scope"), chi.URLParam(r, "subject"), p, actor(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

func (a *adminAPI) deletePolicy(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeletePolicy(r.Context(), chi.URLParam(r, "scope"), chi.URLParam(r, "subject"), actor(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *adminAPI) listVouchers(w http.ResponseWriter, r *http.Request) {
	format, limit, after, err := idPage(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	owner, err := int64Param(r, "owner-id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	vs, err := a.svc.Store().ListVouchers(r.Context(), masa.VoucherFilter{SerialNumber: r.URL.Query().Get("serial-number"), OwnerID: owner, After: after, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	next := ""
	if len(vs) == limit {
		next = strconv.FormatInt(vs[len(vs)-1].ID, 10)
	}
	if format == "csv" {
		rows := make([][]string, len(vs))
		for i, v := range vs {
			nonce, exp := "", ""
			if v.Nonce != nil {
				nonce = *v.Nonce
			}
			if v.ExpiresOn != nil {
				exp = v.ExpiresOn.UTC().Format(time.RFC3339Nano)
			}
			rows[i] = []string{strconv.FormatInt(v.ID, 10), v.SerialNumber, strconv.FormatInt(v.OwnerID, 10), v.DomainID, nonce,
				v.Assertion, exp, v.RegistrarSubject, v.IssuedAt.UTC().Format(time.RFC3339Nano)}
		}
		writeCSV(w, next, []string{"id", "serial-number", "owner-id", "domain-id", "nonce", "assertion", "expires-on", "registrar-subject", "issued-at"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, Page[masa.VoucherRecord]{Items: vs, Next: next})
}

func (a *adminAPI) listEvents(w http.ResponseWriter, r *http.Request) {
	format, limit, after, err := idPage(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	es, err := a.svc.Store().ListEvents(r.Context(), masa.EventFilter{SerialNumber: r.URL.Query().Get("serial-number"), After: after, Limit: limit})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	next := ""
	if len(es) == limit {
		next = strconv.FormatInt(es[len(es)-1].ID, 10)
	}
	if format == "csv" {
		rows := make([][]string, len(es))
		for i, e := range es {
			d, _ := json.Marshal(e.Detail)
			rows[i] = []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.SerialNumber, string(d)}
		}
		writeCSV(w, next, []string{"id", "at", "actor", "action", "serial-number", "detail"}, rows)
		return
	}
	writeJSON(w, http.StatusOK, Page[masa.AuditEvent]{Items: es, Next: next})
}
