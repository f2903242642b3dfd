package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/landfall-io/landfall/internal/adminapi"
	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/requestid"
)

// statusAndReason maps any error to a status and a client-safe reason.
func statusAndReason(err error) (int, string, time.Duration) {
	var me *masa.Error
	if errors.As(err, &me) {
		return me.Status, me.Reason, me.Retry
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "request body larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes", 0
	}
	var ie *masa.ImportError
	if errors.As(err, &ie) {
		return http.StatusUnprocessableEntity, ie.Error(), 0
	}
	return http.StatusInternalServerError, "internal error", 0
}

func logError(log *slog.Logger, r *http.Request, status int, err error) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	log.Log(r.Context(), level, "request failed", "request_id", requestid.From(r.Context()), "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
}

// writeText answers a device-facing request with a plain-text reason
// (RFC 8995 5.6), and Retry-After with a 202.
func writeText(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, reason, retry := statusAndReason(err)
	logError(log, r, status, err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if retry > 0 {
		w.Header().Set("Retry-After", adminapi.RetryAfter(retry))
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(reason + "\n"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
