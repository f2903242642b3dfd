package httpapi

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/landfall-io/landfall/internal/console/masaui"
	"github.com/landfall-io/landfall/internal/masa"
)

// mountConsole serves the operator console (internal/console/masaui) at
// /console/ on the admin listener, and sends GET / and GET /console there.
// A MASA whose console cannot be built (no key to derive from) serves the
// admin API alone and says why in its log.
func (a *adminAPI) mountConsole(r chi.Router) {
	key, err := consoleKey(a.svc.Config())
	var console http.Handler
	if err == nil {
		console, err = masaui.New(masaui.Options{Service: a.svc, Key: key, Classify: classify, Log: a.opt.Logger})
	}
	if err != nil {
		a.opt.Logger.Error("operator console not served", "err", err)
		return
	}
	// The console routes the request's whole path with a router of its
	// own: it gets a request without this router's routing state.
	own := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		console.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, (*chi.Context)(nil))))
	})
	r.Handle(masaui.Base+"/*", own)
	toConsole := http.RedirectHandler(masaui.Base+"/", http.StatusFound)
	r.Method(http.MethodGet, "/", toConsole)
	r.Method(http.MethodGet, masaui.Base, toConsole)
}

// consoleKey is the console's key (session cookies, CSRF tokens), derived
// from the voucher-signing key as the registrar's is from its session key:
// every replica of one MASA holds that key, so any of them serves a
// console session, and no second secret needs configuring.
func consoleKey(cfg masa.Config) ([]byte, error) {
	if cfg.Signer == nil || cfg.Signer.Key == nil {
		return nil, fmt.Errorf("no voucher-signing key to derive the console's key from")
	}
	der, err := x509.MarshalPKCS8PrivateKey(cfg.Signer.Key)
	if err != nil {
		return nil, fmt.Errorf("the voucher-signing key cannot be read to derive the console's key: %w", err)
	}
	return hkdf.Key(sha256.New, der, nil, "landfall masa console", 32)
}
