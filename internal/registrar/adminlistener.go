package registrar

import (
	"fmt"
	"net/http"

	"github.com/landfall-io/landfall/internal/registrar/admin"
)

// AdminHandler serves the replica's admin listener: the admin API with its
// health and readiness probes, and, behind an auditor's token, the
// replica's Prometheus metrics (/metrics) and session counts
// (/atls/stats). `registrar serve` and the sandbox serve it alike.
func (rg *Registrar) AdminHandler() http.Handler {
	stats := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := rg.atls.Stats()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"sessions\":%d,\"handshakes\":%d}\n", st.Sessions, st.Handshakes)
	})
	return admin.New(rg.store, admin.WithLogger(rg.log), admin.WithMonitoring(map[string]http.Handler{
		"/metrics":    rg.MetricsHandler(),
		"/atls/stats": stats,
	}))
}
