package pledge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/landfall-io/landfall/pkg/atls"
)

// OnboardRetrying runs Onboard up to attempts times while the failures are
// worth retrying: the session's replica is gone (ATLS 404), the load
// balancer could not reach a replica (502, 504), the service is busy or
// waiting (503), or the network failed. A fresh onboarding starts from the
// handshake; the enrollment key stays the same, so a certificate issued in
// an attempt whose answer was lost is the one the next attempt receives.
func OnboardRetrying(ctx context.Context, cfg Config, attempts int) (*Result, int, error) {
	if cfg.EnrollKey == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, 0, err
		}
		cfg.EnrollKey = k
	}
	var res *Result
	var err error
	for i := 1; ; i++ {
		res, err = Onboard(ctx, cfg)
		if err == nil || i >= attempts || !retryable(err) {
			return res, i, err
		}
		sleep := cfg.Sleep
		if sleep == nil {
			sleep = time.After
		}
		select {
		case <-ctx.Done():
			return res, i, ctx.Err()
		case <-sleep(time.Duration(i) * 100 * time.Millisecond):
		}
	}
}

func retryable(err error) bool {
	var pe *Error
	var se *atls.StatusError
	var ne net.Error
	switch {
	case errors.As(err, &se):
		return se.StatusCode == http.StatusNotFound || se.StatusCode == http.StatusTooManyRequests || se.StatusCode >= 500
	case coapStatus(err) != 0:
		s := coapStatus(err)
		return s == http.StatusNotFound || s == http.StatusTooManyRequests || s >= 500
	case errors.As(err, &pe) && pe.Retryable:
		return true
	case errors.As(err, &pe) && (pe.Status == http.StatusBadGateway || pe.Status == http.StatusServiceUnavailable || pe.Status == http.StatusGatewayTimeout):
		return true
	case errors.As(err, &ne):
		return true
	}
	return false
}
