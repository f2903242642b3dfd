package adminapi

import (
	"context"
	"net/http"
	"time"
)

// Pinger checks that the service's database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ReadyTimeout bounds the readiness probe's ping.
const ReadyTimeout = 2 * time.Second

// Healthz is the liveness probe: 200 {"status":"ok"} while the process
// serves HTTP.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Readyz is the readiness probe: 200 {"status":"ready"} when the database
// answers a ping within ReadyTimeout, else 503 with Retry-After, so that
// a load balancer stops sending work to an instance that cannot reach it.
func (rd *Renderer) Readyz(p Pinger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			rd.Fail(w, r, &Error{Status: http.StatusServiceUnavailable, Detail: "database unavailable", Err: err})
			return
		}
		_ = WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
