package registrar_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/oscore"
)

// The registrar's CoAP listener serves the replica's own ATLS server: a
// pledge's handshake over CoAP passes the registrar's pledge check, lives
// in the replica's session table, and exports into the shared context
// store, from which the replicas behind the load balancer serve its OSCORE
// requests over HTTP.
func TestCoAPListenerHandshake(t *testing.T) {
	e := newEnv(t, envOptions{})
	rg := e.Replicas[0]
	l, err := rg.ListenCoAP("127.0.0.1:0", atls.CoAPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Serve() }()
	t.Cleanup(func() { l.Close(); <-done })

	idevid := e.newDevice("coap-0001", true)
	c := &atls.CoAPClient{
		Addr:        l.Addr().String(),
		TLS:         &tls.Config{Certificates: []tls.Certificate{idevid}},
		Protocols:   []string{atls.ProtoOSCORE},
		Provisional: true,
		BlockSize:   256,
	}
	sess, err := c.Handshake(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := rg.ATLS().Stats().Sessions; got != 1 {
		t.Fatalf("replica holds %d sessions, want the CoAP one", got)
	}
	ec := sess.Exported()
	if ec == nil {
		t.Fatal("no context exported")
	}
	octx, err := oscore.NewContext(ec.Params())
	if err != nil {
		t.Fatal(err)
	}

	// Two OSCORE requests through the round-robin balancer: both replicas
	// find the context the CoAP handshake exported.
	for i := range 2 {
		status, body := oscoreGET(t, e.LB.URL, e.LB.Client(), octx, "/.well-known/est/cacerts")
		if status != http.StatusOK || len(body) == 0 {
			t.Fatalf("request %d: %d %q", i, status, body)
		}
	}

	if err := sess.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rg.ATLS().Stats().Sessions; got != 0 {
		t.Fatalf("replica holds %d sessions after DELETE", got)
	}
	// DELETE erased the context (profile 1.8, 7.3).
	if status, _ := oscoreGET(t, e.LB.URL, e.LB.Client(), octx, "/.well-known/est/cacerts"); status != http.StatusUnauthorized {
		t.Fatalf("after DELETE: %d, want 401", status)
	}
}

// A client certificate of no trusted manufacturer is refused over CoAP as
// over HTTP (4.03 with the reason), and nothing is kept.
func TestCoAPListenerRefusesUnknownDevice(t *testing.T) {
	e := newEnv(t, envOptions{})
	rg := e.Replicas[0]
	l, err := rg.ListenCoAP("127.0.0.1:0", atls.CoAPConfig{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Serve() }()
	t.Cleanup(func() { l.Close(); <-done })

	c := &atls.CoAPClient{
		Addr:        l.Addr().String(),
		TLS:         &tls.Config{Certificates: []tls.Certificate{selfSignedDevice(t)}},
		Protocols:   []string{atls.ProtoOSCORE},
		Provisional: true,
	}
	_, err = c.Handshake(context.Background())
	var se *atls.CoAPStatusError
	if !errors.As(err, &se) || se.Code != codes.Forbidden || se.Reason == "" {
		t.Fatalf("self-signed device: %v", err)
	}
	if st := rg.ATLS().Stats(); st.Sessions != 0 || st.Handshakes != 0 {
		t.Fatalf("refused device left %+v", st)
	}
}

func selfSignedDevice(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "intruder", SerialNumber: "intruder"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// oscoreGET sends one GET protected with ec as an application/oscore POST
// to the ATLS resource (profile 5) and returns the inner status and body
// (or the outer status of an unprotected error).
func oscoreGET(t *testing.T, base string, hc *http.Client, octx *oscore.Context, path string) (int, []byte) {
	t.Helper()
	inner, _ := http.NewRequest(http.MethodGet, base+path, nil)
	msg, err := oscore.RequestToMessage(inner, nil)
	if err != nil {
		t.Fatal(err)
	}
	opt, ct, st, err := octx.ProtectRequest(msg.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+atls.DefaultPath, bytes.NewReader(ct))
	req.Header.Set("Content-Type", oscore.MediaType)
	req.Header.Set(oscore.HeaderName, oscore.EncodeHeader(opt))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, answer
	}
	rawOpt, err := oscore.DecodeHeader(resp.Header.Get(oscore.HeaderName))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := octx.UnprotectResponse(st, rawOpt, answer)
	if err != nil {
		t.Fatal(err)
	}
	m, err := oscore.UnmarshalMessage(pt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := oscore.MessageToResponse(m, inner)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	return r.StatusCode, body
}
