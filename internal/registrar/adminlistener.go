package registrar

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/landfall-io/landfall/internal/console/registrarui"
	"github.com/landfall-io/landfall/internal/registrar/admin"
)

// AdminHandler serves the replica's admin listener: the admin API with its
// health and readiness probes, and, behind an auditor's token, the
// replica's Prometheus metrics (/metrics) and session counts
// (/atls/stats) and a CPU profile of the next ?seconds= (default 30) in
// pprof's format (/debug/pprof/profile, for cmd/loadgen --profile), and
// the operator console at /console/ (internal/console/registrarui; GET /
// redirects there). `registrar serve` and the sandbox serve it alike.
func (rg *Registrar) AdminHandler() http.Handler {
	stats := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := rg.atls.Stats()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"sessions\":%d,\"handshakes\":%d}\n", st.Sessions, st.Handshakes)
	})
	api := admin.New(rg.store, admin.WithLogger(rg.log), admin.WithMonitoring(map[string]http.Handler{
		"/metrics":             rg.MetricsHandler(),
		"/atls/stats":          stats,
		"/debug/pprof/profile": http.HandlerFunc(cpuProfile),
	}))
	console, err := rg.console()
	if err != nil {
		rg.log.Error("operator console not served", "err", err)
		return api
	}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle(registrarui.Base+"/", console)
	toConsole := http.RedirectHandler(registrarui.Base+"/", http.StatusFound)
	mux.Handle("GET /{$}", toConsole)
	mux.Handle("GET "+registrarui.Base, toConsole)
	return mux
}

// console is the operator console over the registrar's store. Its cookies
// are sealed with a key derived from the session key, which every replica
// shares, so that any replica serves a console session.
func (rg *Registrar) console() (http.Handler, error) {
	if len(rg.cfg.SessionKey) == 0 {
		return nil, fmt.Errorf("no session key to derive the console's key from")
	}
	key, err := hkdf.Key(sha256.New, rg.cfg.SessionKey, nil, "landfall registrar console", 32)
	if err != nil {
		return nil, err
	}
	return registrarui.New(registrarui.Options{
		Store: rg.store, Key: key, Replica: rg.cfg.ReplicaID, Log: rg.log,
		Stats: func() registrarui.ATLSStats {
			st := rg.atls.Stats()
			return registrarui.ATLSStats{Sessions: st.Sessions, Handshakes: st.Handshakes}
		},
	})
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
