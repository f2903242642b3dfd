package registrar_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// TestESTTransferEncodingConfig: the registrar's EST answers carry
// Content-Transfer-Encoding: base64 with the production configuration
// (RFC 7030 clients older than errata 5107 require it), and none with
// Config.ESTOmitTransferEncoding (`registrar serve
// --est-omit-transfer-encoding`). /cacerts is asked without a client
// certificate, which the direct listener serves (RFC 7030 4.1.1).
func TestESTTransferEncodingConfig(t *testing.T) {
	e := newEnv(t, envOptions{})
	ca, err := enroll.NewEmbeddedCA(e.State.DomainCA)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := registrar.OnPostgreSQL(registrar.Config{
		ReplicaID: "cte-test", SessionKey: e.State.SessionKey, ContextKey: e.State.ContextKey,
		TLSCertificate: e.State.TLSCert, CA: ca, ESTOmitTransferEncoding: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, e.Pool())
	if err != nil {
		t.Fatal(err)
	}
	rg, err := registrar.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rg.Close)
	omitting := httptest.NewUnstartedServer(rg.DeviceHandler())
	omitting.TLS = rg.DirectTLSConfig()
	omitting.StartTLS()
	t.Cleanup(omitting.Close)

	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, tc := range []struct {
		name, url, want string
	}{
		{"production default", e.Direct[0].URL, "base64"},
		{"ESTOmitTransferEncoding", omitting.URL, ""},
	} {
		resp, err := anon.Get(tc.url + "/.well-known/est/cacerts")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: /cacerts without a client certificate: %d %s", tc.name, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Transfer-Encoding"); got != tc.want {
			t.Errorf("%s: Content-Transfer-Encoding %q, want %q", tc.name, got, tc.want)
		}
		if _, err := enroll.ParseCertsOnly(body); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
