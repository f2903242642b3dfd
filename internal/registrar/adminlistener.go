package registrar

import (
	"fmt"
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/landfall-io/landfall/internal/registrar/admin"
)

// AdminHandler serves the replica's admin listener: the admin API with its
// health and readiness probes, and, behind an auditor's token, the
// replica's Prometheus metrics (/metrics) and session counts
// (/atls/stats) and a CPU profile of the next ?seconds= (default 30) in
// pprof's format (/debug/pprof/profile, for cmd/loadgen --profile).
// `registrar serve` and the sandbox serve it alike.
func (rg *Registrar) AdminHandler() http.Handler {
	stats := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := rg.atls.Stats()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"sessions\":%d,\"handshakes\":%d}\n", st.Sessions, st.Handshakes)
	})
	return admin.New(rg.store, admin.WithLogger(rg.log), admin.WithMonitoring(map[string]http.Handler{
		"/metrics":             rg.MetricsHandler(),
		"/atls/stats":          stats,
		"/debug/pprof/profile": http.HandlerFunc(cpuProfile),
	}))
}

// cpuProfile writes a CPU profile of the next ?seconds= (1 to 300, default
// 30) in pprof's format, as net/http/pprof's handler does, without that
// package's registration on http.DefaultServeMux. One profile at a time:
// a request while another runs is answered 409.
func cpuProfile(w http.ResponseWriter, r *http.Request) {
	secs := 30
	if v := r.URL.Query().Get("seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 300 {
			http.Error(w, "seconds: 1 to 300", http.StatusBadRequest)
			return
		}
		secs = n
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="profile"`)
	if err := pprof.StartCPUProfile(w); err != nil {
		w.Header().Del("Content-Disposition")
		http.Error(w, "a CPU profile is already running", http.StatusConflict)
		return
	}
	t := time.NewTimer(time.Duration(secs) * time.Second)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
	}
	pprof.StopCPUProfile()
}
