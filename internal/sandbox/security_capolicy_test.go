package sandbox_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/pledge"
	"github.com/landfall-io/landfall/internal/sandbox"
	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/internal/testkit/testdeploy"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// testSecurityCAPolicy is issue 11 item 2: the CA signs the names registrar
// policy derives, never the CSR's. A pledge that onboarded normally then
// asks, over its IDevID's mutual TLS, for certificates naming the
// registrar, the domain CA, any SAN or a server/registrar usage: each gets
// 403 with a reason naming what it asked for, and no certificate row. The
// LDevIDs issued are read with `openssl x509 -text`.
func testSecurityCAPolicy(t *testing.T) {
	ctx := context.Background()
	d := startCAPolicy(t)
	idevid, err := d.NewDevice(ctx, "CAP-0001", true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pledge.Onboard(ctx, d.PledgeConfig(pledge.ModeATLSOSCORE, idevid))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("2/clean-ldevid", func(t *testing.T) {
		checkLDevIDText(t, res.Certificate, "CAP-0001", "")
		if n := certificateRows(t, d, "CAP-0001"); n != 1 {
			t.Errorf("%d certificate rows, want 1", n)
		}
	})

	san := func(t *testing.T, gn ...asn1.RawValue) []pkix.Extension {
		v, err := asn1.Marshal(gn)
		if err != nil {
			t.Fatal(err)
		}
		return []pkix.Extension{{Id: enroll.OIDExtSubjectAltName, Value: v}}
	}
	ctxTag := func(tag int, b []byte) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, Bytes: b}
	}
	eku := func(t *testing.T, oids ...asn1.ObjectIdentifier) []pkix.Extension {
		v, err := asn1.Marshal(oids)
		if err != nil {
			t.Fatal(err)
		}
		return []pkix.Extension{{Id: enroll.OIDExtExtendedKeyUsage, Value: v}}
	}
	sn := pkix.Name{SerialNumber: "CAP-0001"}
	rows := []struct {
		name    string
		subject pkix.Name
		exts    func(t *testing.T) []pkix.Extension
		reason  string
	}{
		{"2/subject-forged", pkix.Name{SerialNumber: "CAP-0001", CommonName: "registrar.example.net", OrganizationalUnit: []string{"Domain CA"}}, nil, "CSR subject requests OU=Domain CA"},
		{"2/subject-cn-forged", pkix.Name{SerialNumber: "CAP-0001", CommonName: "registrar.example.net"}, nil, "CSR subject requests CN=registrar.example.net"},
		{"2/subject-other-serial", pkix.Name{SerialNumber: "CAP-9999"}, nil, `CSR serialNumber "CAP-9999" does not match`},
		{"2/san-dns", sn, func(t *testing.T) []pkix.Extension { return san(t, ctxTag(2, []byte("registrar.example.net"))) }, "subjectAltName DNS:registrar.example.net"},
		{"2/san-wildcard", sn, func(t *testing.T) []pkix.Extension { return san(t, ctxTag(2, []byte("*.example.net"))) }, "subjectAltName DNS:*.example.net"},
		{"2/san-ip", sn, func(t *testing.T) []pkix.Extension { return san(t, ctxTag(7, net.IPv4(127, 0, 0, 1).To4())) }, "subjectAltName IP:127.0.0.1"},
		{"2/san-email", sn, func(t *testing.T) []pkix.Extension { return san(t, ctxTag(1, []byte("admin@example.net"))) }, "subjectAltName email:admin@example.net"},
		{"2/san-uri", sn, func(t *testing.T) []pkix.Extension {
			return san(t, ctxTag(6, []byte("https://registrar.example.net/")))
		}, "subjectAltName URI:https://registrar.example.net/"},
		{"2/eku-serverauth", sn, func(t *testing.T) []pkix.Extension {
			return eku(t, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1})
		}, "extended key usage serverAuth"},
		{"2/eku-cmcra", sn, func(t *testing.T) []pkix.Extension {
			return eku(t, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 28})
		}, "extended key usage id-kp-cmcRA"},
	}
	ldevid := tls.Certificate{Certificate: [][]byte{res.Certificate.Raw}, PrivateKey: res.Key, Leaf: res.Certificate}
	for _, op := range []struct {
		path   string
		client tls.Certificate
	}{{"simpleenroll", idevid}, {"simplereenroll", ldevid}} {
		for _, row := range rows {
			name := row.name
			if op.path == "simplereenroll" {
				name += "-reenroll"
			}
			t.Run(name, func(t *testing.T) {
				var exts []pkix.Extension
				if row.exts != nil {
					exts = row.exts(t)
				}
				before, state := certificateRows(t, d, "CAP-0001"), pledgeState(t, d, "CAP-0001")
				status, body := postCSR(t, d, op.client, op.path, newCSR(t, row.subject, exts))
				if status != http.StatusForbidden || !strings.Contains(body, row.reason) {
					t.Fatalf("status %d %q, want 403 with %q", status, body, row.reason)
				}
				if n := certificateRows(t, d, "CAP-0001"); n != before {
					t.Errorf("certificate rows %d -> %d", before, n)
				}
				if s := pledgeState(t, d, "CAP-0001"); s != state {
					t.Errorf("pledge state %q -> %q", state, s)
				}
			})
		}
	}
	t.Run("2/reenroll-keeps-policy-names", func(t *testing.T) {
		status, body := postCSR(t, d, ldevid, "simplereenroll", newCSR(t, sn, nil))
		if status != http.StatusOK {
			t.Fatalf("status %d %q", status, body)
		}
		certs, err := enroll.ParseCertsOnly([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		checkLDevIDText(t, certs[0], "CAP-0001", "")
		if n := certificateRows(t, d, "CAP-0001"); n != 2 {
			t.Errorf("%d certificate rows, want 2", n)
		}
	})

	// A manufacturer with an LDevID URI template, in a deployment of its
	// own (replicas cache the manufacturer list).
	t.Run("2/uri-template", func(t *testing.T) {
		d := startCAPolicy(t)
		m, err := d.Store.GetManufacturer(ctx, d.ManufacturerID)
		if err != nil {
			t.Fatal(err)
		}
		m.LDevIDURITemplate = "urn:dev:serial:{{.SerialNumber}}"
		if _, err := d.Store.UpdateManufacturer(ctx, *m, "test"); err != nil {
			t.Fatal(err)
		}
		idevid, err := d.NewDevice(ctx, "CAP-URI-1", true)
		if err != nil {
			t.Fatal(err)
		}
		res, err := pledge.Onboard(ctx, d.PledgeConfig(pledge.ModeATLSCOSE, idevid))
		if err != nil {
			t.Fatal(err)
		}
		checkLDevIDText(t, res.Certificate, "CAP-URI-1", "URI:urn:dev:serial:CAP-URI-1")
		// Another device's URI is not this one's to ask for.
		other := san(t, ctxTag(6, []byte("urn:dev:serial:CAP-URI-2")))
		status, body := postCSR(t, d, idevid, "simpleenroll", newCSR(t, pkix.Name{SerialNumber: "CAP-URI-1"}, other))
		if status != http.StatusForbidden || !strings.Contains(body, "subjectAltName URI:urn:dev:serial:CAP-URI-2") {
			t.Fatalf("status %d %q", status, body)
		}
		if n := certificateRows(t, d, "CAP-URI-1"); n != 1 {
			t.Errorf("%d certificate rows, want 1", n)
		}
	})
}

func startCAPolicy(t *testing.T) *sandbox.Deployment {
	t.Helper()
	return testdeploy.Start(t)
}

// newCSR makes a CSR for a fresh key with subject and extension requests.
func newCSR(t *testing.T, subject pkix.Name, exts []pkix.Extension) []byte {
	t.Helper()
	return testkit.CSR(t, testkit.Key(t), subject, exts...)
}

// postCSR sends csr to the EST operation at the first replica's direct
// mutual-TLS listener (RFC 8995 as is), authenticated with client.
func postCSR(t *testing.T, d *sandbox.Deployment, client tls.Certificate, op string, csr []byte) (int, string) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(d.State.DomainRoot)
	u, _ := url.Parse(d.Direct[0].URL)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, Certificates: []tls.Certificate{client}, ServerName: u.Hostname(), MinVersion: tls.VersionTLS13}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodPost, d.Direct[0].URL+enroll.DefaultPathPrefix+"/"+op,
		strings.NewReader(base64.StdEncoding.EncodeToString(csr)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", enroll.MediaTypePKCS10)
	resp, b := testkit.Do(t, hc, req)
	return resp.StatusCode, string(b)
}

func certificateRows(t *testing.T, d *sandbox.Deployment, serial string) int {
	t.Helper()
	var n int
	if err := d.Pool().QueryRow(context.Background(), `SELECT count(*) FROM certificates c JOIN pledges p ON p.id = c.pledge_id
		WHERE p.serial = $1`, serial).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func pledgeState(t *testing.T, d *sandbox.Deployment, serial string) string {
	t.Helper()
	var s string
	if err := d.Pool().QueryRow(context.Background(), `SELECT state FROM pledges WHERE serial = $1`, serial).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkLDevIDText reads c with `openssl x509 -noout -text`: subject
// serialNumber and CN the serial, exactly san as subjectAltName ("" for
// none), extended key usage TLS Web Client Authentication alone, key
// usage Digital Signature, CA:FALSE.
func checkLDevIDText(t *testing.T, c *x509.Certificate, serial, san string) {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		// The security suite must not lose its independent check quietly:
		// scripts/deps.sh installs openssl for the test command.
		t.Fatal("openssl not installed (scripts/deps.sh installs it)")
	}
	cmd := exec.Command(path, "x509", "-inform", "DER", "-noout", "-text", "-nameopt", "RFC2253")
	cmd.Stdin = bytes.NewReader(c.Raw)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl x509: %v", err)
	}
	lines := strings.Split(string(out), "\n")
	after := func(header string) (string, bool) {
		for i, l := range lines {
			if strings.Contains(l, header) && i+1 < len(lines) {
				return strings.TrimSpace(lines[i+1]), true
			}
		}
		return "", false
	}
	var subject string
	for _, l := range lines {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "Subject: "); ok {
			subject = s
		}
	}
	if want := "serialNumber=" + serial + ",CN=" + serial; subject != want {
		t.Errorf("openssl subject %q, want %q", subject, want)
	}
	got, ok := after("X509v3 Subject Alternative Name")
	if san == "" && ok || san != "" && got != san {
		t.Errorf("openssl subjectAltName %q (present %v), want %q", got, ok, san)
	}
	if e, _ := after("X509v3 Extended Key Usage"); e != "TLS Web Client Authentication" {
		t.Errorf("openssl extended key usage %q", e)
	}
	if k, _ := after("X509v3 Key Usage"); k != "Digital Signature" {
		t.Errorf("openssl key usage %q", k)
	}
	if b, _ := after("X509v3 Basic Constraints"); b != "CA:FALSE" {
		t.Errorf("openssl basic constraints %q", b)
	}
}
