package pledge

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/oscore"
)

// renewingTransport carries the requests of a key-export link (profile 5,
// 6). When the registrar no longer has the security context (it expired,
// was deleted, or its store lost it), it answers `401 Security context not
// found`, and profile 1.9 says the client runs a new handshake: the
// transport does that once for the request and sends it again under the
// new context, instead of failing the onboarding.
type renewingTransport struct {
	client *atls.Client

	mu      sync.Mutex
	session *atls.ClientSession
	tr      http.RoundTripper
	binding []byte
	renewed int // how many times the context was renewed
	// accept judges the registrar chain of a renewed session; by default
	// it must be the certificate first accepted provisionally (the pledge
	// voucher-request names it), after the voucher any chain it pins.
	accept func(chain []*x509.Certificate) error
}

func newRenewingTransport(c *atls.Client, sess *atls.ClientSession) (*renewingTransport, error) {
	t := &renewingTransport{client: c}
	if err := t.use(sess); err != nil {
		return nil, err
	}
	first := sess.ConnectionState().PeerCertificates
	t.accept = func(chain []*x509.Certificate) error {
		if len(chain) == 0 || len(first) == 0 || !chain[0].Equal(first[0]) {
			return errors.New("registrar certificate changed in the new handshake")
		}
		return nil
	}
	return t, nil
}

// use makes sess the session requests go through. The caller holds t.mu
// or owns t.
func (t *renewingTransport) use(sess *atls.ClientSession) error {
	tr, err := sess.Transport()
	if err != nil {
		return err
	}
	ec := sess.Exported()
	if ec == nil {
		return errors.New("pledge: a key-export link needs an exported context")
	}
	t.session, t.tr, t.binding = sess, tr, ec.ChannelBinding
	return nil
}

func (t *renewingTransport) current() (http.RoundTripper, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tr, t.renewed
}

// channelBinding is the tls-exporter value of the current context, and the
// number of renewals so far (a CSR bound to an older one must be rebuilt).
func (t *renewingTransport) channelBinding() ([]byte, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.binding, t.renewed
}

func (t *renewingTransport) setAccept(f func(chain []*x509.Certificate) error) {
	t.mu.Lock()
	t.accept = f
	t.mu.Unlock()
}

func (t *renewingTransport) close(ctx context.Context) {
	t.mu.Lock()
	sess := t.session
	t.mu.Unlock()
	_ = sess.Close(ctx)
}

func (t *renewingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.GetBody == nil {
		// The request may have to be sent twice.
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	tr, gen := t.current()
	resp, err := tr.RoundTrip(req)
	if !contextGone(err) {
		return resp, err
	}
	if rerr := t.renew(req.Context(), gen); rerr != nil {
		return nil, fmt.Errorf("%w; new handshake: %v", err, rerr)
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	tr, _ = t.current()
	return tr.RoundTrip(again)
}

// renew runs a new handshake unless another request already renewed the
// context since generation gen.
func (t *renewingTransport) renew(ctx context.Context, gen int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.renewed != gen {
		return nil
	}
	sess, err := t.client.Handshake(ctx)
	if err != nil {
		return err
	}
	if err := t.accept(sess.ConnectionState().PeerCertificates); err != nil {
		_ = sess.Close(ctx)
		return err
	}
	if err := t.use(sess); err != nil {
		return err
	}
	t.renewed++
	return nil
}

// contextGone reports the profile's answer to a request whose context the
// server does not have (5.7).
func contextGone(err error) bool {
	var se *atls.StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized && se.Reason == oscore.ErrContextNotFound.Error()
}
