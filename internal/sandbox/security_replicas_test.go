package sandbox_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/registrar/replica"
	"github.com/landfall-io/landfall/internal/registrar/store"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/atls"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// testSecurityReplicas: replica identity (item 8), who may open sessions on
// the internal listener (item 9), and the admin listener's monitoring
// endpoints (item 12).
func testSecurityReplicas(t *testing.T) {
	ctx := context.Background()
	d := testdeploy.Start(t)
	internalURL := func(t *testing.T, id string) string {
		var u string
		if err := d.Pool().QueryRow(ctx, `SELECT internal_url FROM replicas WHERE id = $1`, id).Scan(&u); err != nil {
			t.Fatalf("replica %s: %v", id, err)
		}
		return u
	}

	t.Run("8/live-duplicate-id-refused", func(t *testing.T) {
		before := internalURL(t, "replica-a")
		ca, err := enroll.NewEmbeddedCA(d.State.DomainCA)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := registrar.OnPostgreSQL(registrar.Config{
			ReplicaID: "replica-a", SessionKey: d.State.SessionKey, ContextKey: d.State.ContextKey, TLSCertificate: d.State.TLSCert,
			CA: ca, ForwardClient: d.State.ForwardClient(),
		}, d.Pool())
		if err != nil {
			t.Fatal(err)
		}
		dup, err := registrar.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer dup.Close()
		other, _ := url.Parse("https://127.0.0.1:1")
		if err := dup.Register(ctx, other); !errors.Is(err, replica.ErrDuplicate) || !strings.Contains(err.Error(), "replica-id") {
			t.Fatalf("a second replica-a registered: %v", err)
		}
		// Run refuses to start, and ends (as a shutdown would) without
		// removing anything of the live replica's.
		runCtx, stop := context.WithTimeout(ctx, 10*time.Second)
		defer stop()
		if err := dup.Run(runCtx, other); !errors.Is(err, replica.ErrDuplicate) {
			t.Fatalf("Run of the duplicate: %v", err)
		}
		if after := internalURL(t, "replica-a"); after != before {
			t.Fatalf("the live replica's registry row changed from %s to %s", before, after)
		}
	})

	t.Run("8/default-ids-distinct-for-one-host-name", func(t *testing.T) {
		a, b := replica.DefaultID("registrar-7d9f8c6b5-abcde"), replica.DefaultID("registrar-7d9f8c6b5-abcde")
		if a == b || len(a) > atls.MaxOwnerIDLen || len(b) > atls.MaxOwnerIDLen {
			t.Fatalf("default ids %q and %q", a, b)
		}
	})

	t.Run("9/ldevid-refused-by-internal-listener", func(t *testing.T) {
		idevid, err := d.NewDevice(ctx, "INTERNAL-0009", true)
		if err != nil {
			t.Fatal(err)
		}
		res, err := pledge.Onboard(ctx, d.PledgeConfig(pledge.ModeDirect, idevid))
		if err != nil {
			t.Fatal(err)
		}
		ldevid := tls.Certificate{Certificate: [][]byte{res.Certificate.Raw}, PrivateKey: res.Key, Leaf: res.Certificate}
		for _, c := range res.CACerts { // the issuing CA, so that the chain verifies
			if string(c.RawIssuer) != string(c.RawSubject) {
				ldevid.Certificate = append(ldevid.Certificate, c.Raw)
			}
		}
		roots := x509.NewCertPool()
		roots.AddCert(d.State.DomainRoot)
		target := internalURL(t, "replica-b") + atls.DefaultPath
		post := func(cert tls.Certificate) (*http.Response, error) {
			// An attacker sends its certificate whatever CAs the server names.
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }}}
			defer tr.CloseIdleConnections()
			return (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(target, atls.ContentTypeATLS, strings.NewReader("\x16\x03\x01\x00\x00"))
		}
		before := d.Replicas[1].ATLS().Stats()
		resp, err := post(ldevid)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("an enrolled pledge's LDevID opened the internal listener: %d", resp.StatusCode)
		}
		if after := d.Replicas[1].ATLS().Stats(); after.Sessions != before.Sessions || after.Handshakes != before.Handshakes {
			t.Fatalf("sessions changed: %+v -> %+v", before, after)
		}
		// The replica certificate still gets in (and its bogus flight is
		// answered at the HTTP layer).
		resp, err = post(d.State.TLSCert)
		if err != nil {
			t.Fatalf("a replica's own certificate refused: %v", err)
		}
		resp.Body.Close()
	})

	t.Run("12/monitoring-needs-a-token", func(t *testing.T) {
		auditor, err := d.Store.CreateToken(ctx, "monitoring", store.RoleAuditor, "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/metrics", "/atls/stats", "/api/v1/replicas"} {
			resp, err := http.Get(d.Admin[0].URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s without a token: %d, want 401", path, resp.StatusCode)
			}
			req, _ := http.NewRequest(http.MethodGet, d.Admin[0].URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+auditor)
			if resp, err = http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s with an auditor's token: %d", path, resp.StatusCode)
			}
		}
	})
}
