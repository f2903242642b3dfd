package enroll

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const est = "/.well-known/est"

func TestCACerts(t *testing.T) {
	p := newTestPKI(t)
	s := newTestServer(t)
	tests := []struct {
		name   string
		path   string
		binary bool
		status int
	}{
		{"base64", est + "/cacerts", false, 200},
		{"label", est + "/arbitrary-label/cacerts", false, 200},
		{"binary", est + "/cacerts", true, 200},
		{"bad label", est + "/bad%20label/cacerts", false, 404},
		{"unknown op", est + "/fullcmc", false, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ctxf []func(context.Context) context.Context
			if tt.binary {
				ctxf = append(ctxf, WithBinary)
			}
			w := do(t, s, "GET", tt.path, nil, nil, ctxf...)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != MediaTypeCertsOnly {
				t.Errorf("Content-Type %q", ct)
			}
			// RFC 7030 section 4 clients require the header on base64
			// bodies (errata 5107); raw DER has none.
			if cte, want := w.Header().Get("Content-Transfer-Encoding"), map[bool]string{false: "base64", true: ""}[tt.binary]; cte != want {
				t.Errorf("Content-Transfer-Encoding %q, want %q", cte, want)
			}
			body := w.Body.Bytes()
			if tt.binary != isDER(body) {
				t.Fatalf("binary=%v but body DER=%v", tt.binary, isDER(body))
			}
			certs, err := ParseCertsOnly(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 2 || !certs[0].Equal(p.domainIssuer) || !certs[1].Equal(p.domainRoot) {
				t.Fatalf("got %d certs, want issuer then root", len(certs))
			}
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		if w := do(t, s, "POST", est+"/cacerts", []byte("x"), nil); w.Code != http.StatusMethodNotAllowed {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("auth required when configured", func(t *testing.T) {
		s := newTestServer(t, WithAuthenticatedCACerts())
		if w := do(t, s, "GET", est+"/cacerts", nil, nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("status %d", w.Code)
		}
	})
}

func TestCSRAttrsEndpoint(t *testing.T) {
	pol := &CSRPolicy{
		RequireSerialNumber:   true,
		RequireChannelBinding: true,
		KeyTypes:              []KeyType{KeyECP384, KeyECP256},
		RequestedExtensions:   []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 1, 1}},
	}
	uriTmpl, err := ParseNameTemplate(NameURI, "urn:dev:serial:{{.SerialNumber}}")
	if err != nil {
		t.Fatal(err)
	}
	dnsTmpl, err := ParseNameTemplate(NameDNS, "{{.SerialNumber}}.devices.example.net")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestServer(t, WithCSRPolicy(pol), WithNamePolicy(SerialNumberNames(dnsTmpl, uriTmpl)))
	chain, _ := newTestPKI(t).idevid(t, "SN-ATTR")
	cases := []struct {
		path string
		peer *Peer
		want []asn1.ObjectIdentifier
	}{
		// Unauthenticated: nothing to derive names from, so no SANs.
		{est + "/csrattrs", nil, []asn1.ObjectIdentifier{OIDChallengePassword, OIDSerialNumber, OIDECPublicKey, OIDECDSAWithSHA384, {1, 3, 6, 1, 5, 5, 7, 1, 1}}},
		{est + "/csrattributes", nil, []asn1.ObjectIdentifier{OIDChallengePassword, OIDSerialNumber, OIDECPublicKey, OIDECDSAWithSHA384, {1, 3, 6, 1, 5, 5, 7, 1, 1}}},
		// Authenticated: the SANs the templates give this device.
		{est + "/lbl/csrattrs", &Peer{Chain: chain}, []asn1.ObjectIdentifier{OIDChallengePassword, OIDSerialNumber, OIDECPublicKey, OIDECDSAWithSHA384, OIDExtensionRequest, {1, 3, 6, 1, 5, 5, 7, 1, 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			w := do(t, s, "GET", tc.path, nil, tc.peer)
			if w.Code != 200 || w.Header().Get("Content-Type") != MediaTypeCSRAttrs {
				t.Fatalf("status %d type %q", w.Code, w.Header().Get("Content-Type"))
			}
			attrs, err := ParseCSRAttrs(w.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if len(attrs) != len(tc.want) {
				t.Fatalf("got %d attributes, want %d", len(attrs), len(tc.want))
			}
			for i, a := range attrs {
				if !a.OID.Equal(tc.want[i]) {
					t.Errorf("attr %d = %v, want %v", i, a.OID, tc.want[i])
				}
			}
			var curve asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(attrs[2].Values[0].FullBytes, &curve); err != nil || !curve.Equal(OIDCurveP384) {
				t.Errorf("curve %v (%v)", curve, err)
			}
			if tc.peer == nil {
				return
			}
			var exts []pkix.Extension
			if _, err := asn1.Unmarshal(attrs[4].Values[0].FullBytes, &exts); err != nil || len(exts) != 1 || !exts[0].Id.Equal(OIDExtSubjectAltName) {
				t.Fatalf("extensionRequest %v (%v)", exts, err)
			}
			// The SAN extension parses as Go would parse a certificate's.
			c := &x509.Certificate{}
			if err := parseSANForTest(t, exts[0], c); err != nil || len(c.DNSNames) != 1 || c.DNSNames[0] != "SN-ATTR.devices.example.net" ||
				len(c.URIs) != 1 || c.URIs[0].String() != "urn:dev:serial:SN-ATTR" {
				t.Fatalf("SANs %v %v (%v)", c.DNSNames, c.URIs, err)
			}
		})
	}
	for _, status := range []int{204, 404} {
		t.Run("empty "+http.StatusText(status), func(t *testing.T) {
			s := newTestServer(t, WithEmptyCSRAttrsStatus(status), WithCSRAttrsFunc(func(context.Context, string, Peer) ([]CSRAttr, error) { return nil, nil }))
			w := do(t, s, "GET", est+"/csrattrs", nil, nil)
			if w.Code != status || w.Body.Len() != 0 {
				t.Fatalf("status %d body %q", w.Code, w.Body)
			}
		})
	}
	t.Run("func sees label and peer", func(t *testing.T) {
		var gotLabel string
		var gotPeer Peer
		s := newTestServer(t, WithCSRAttrsFunc(func(_ context.Context, l string, p Peer) ([]CSRAttr, error) {
			gotLabel, gotPeer = l, p
			return []CSRAttr{{OID: OIDSerialNumber}}, nil
		}))
		chain, _ := newTestPKI(t).idevid(t, "SN1")
		w := do(t, s, "GET", est+"/x/csrattrs", nil, &Peer{Chain: chain})
		if w.Code != 200 || gotLabel != "x" || gotPeer.Leaf() != chain[0] {
			t.Fatalf("status %d label %q", w.Code, gotLabel)
		}
	})
	t.Run("bad status option", func(t *testing.T) {
		if _, err := NewServer(newTestPKI(t).ca, WithPolicy(AllowAuthenticated), WithEmptyCSRAttrsStatus(200)); err == nil {
			t.Fatal("accepted 200 for empty csrattrs")
		}
	})
}

// parseSANForTest parses a SAN extension by wrapping it in a certificate.
func parseSANForTest(t *testing.T, ext pkix.Extension, out *x509.Certificate) error {
	p := newTestPKI(t)
	tmpl := &x509.Certificate{SerialNumber: bigOne(), ExtraExtensions: []pkix.Extension{ext}}
	der, err := x509.CreateCertificate(randReader(), tmpl, p.domainIssuer, p.domainKey.Public(), p.domainKey)
	if err != nil {
		return err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	*out = *c
	return nil
}

func TestSimpleEnroll(t *testing.T) {
	p := newTestPKI(t)
	chain, key := p.idevid(t, "SN-0001")
	peer := &Peer{Chain: chain}
	good := makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-0001"}})
	tampered := bytes.Clone(good)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	rsaKey := mustRSAKey(t)
	caExt := pkix.Extension{Id: OIDExtBasicConstraints, Critical: true, Value: mustMarshal(t, struct{ IsCA bool }{true})}
	oddExt := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}
	wrapped := []byte(strings.ReplaceAll(string(encodeBase64Lines(good)), "\r\n", "\n  \t"))

	tests := []struct {
		name   string
		body   []byte
		peer   *Peer
		policy Policy
		status int
		retry  string
		reason string
	}{
		{"base64", encodeBase64Lines(good), peer, nil, 200, "", ""},
		{"base64 one line no padding", []byte(strings.TrimRight(base64.StdEncoding.EncodeToString(good), "=")), peer, nil, 200, "", ""},
		{"base64 odd white space", wrapped, peer, nil, 200, "", ""},
		{"DER", good, peer, nil, 200, "", ""},
		{"PEM", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: good}), peer, nil, 200, "", ""},
		{"bad base64", []byte("MIIB!!!not*base64"), peer, nil, 400, "", "malformed request body"},
		{"empty body", nil, peer, nil, 400, "", "malformed request body"},
		{"garbage DER", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, peer, nil, 400, "", "malformed PKCS#10"},
		{"garbage base64 of DER", encodeBase64Lines([]byte{0x30, 0x03, 0x02, 0x01, 0x01}), peer, nil, 400, "", "malformed PKCS#10"},
		{"signature invalid", tampered, peer, nil, 400, "", "signature invalid"},
		{"wrong key type", makeCSR(t, rsaKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-0001"}}), peer, nil, 403, "", "key type RSA-2048"},
		{"wrong serial", makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-9999"}}), peer, nil, 403, "", "does not match"},
		{"missing serial", makeCSR(t, key, csrOpts{}), peer, nil, 403, "", "lacks serialNumber"},
		{"disallowed extension", makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-0001"}, exts: []pkix.Extension{oddExt}}), peer, nil, 403, "", "disallowed extension 1.2.3.4"},
		{"CA requested", makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-0001"}, exts: []pkix.Extension{caExt}}), peer, nil, 403, "", "CA certificate"},
		{"unauthenticated", good, nil, nil, 401, "", "client certificate required"},
		{"empty chain", good, &Peer{}, nil, 401, "", ""},
		{"not yet allowed", good, peer, func(context.Context, *AuthzRequest) error { return ErrPending(90*time.Second, "awaiting approval") }, 202, "90", "awaiting approval"},
		{"denied", good, peer, func(context.Context, *AuthzRequest) error { return ErrForbidden("device unknown") }, 403, "", "device unknown"},
		{"policy internal error", good, peer, func(context.Context, *AuthzRequest) error { return errors.New("db down") }, 500, "", "internal error"},
		{"oversized", bytes.Repeat([]byte("A"), 2048), peer, nil, 413, "", "larger than 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := tt.policy
			if pol == nil {
				pol = AllowAuthenticated
			}
			s := newTestServer(t, WithPolicy(pol), WithMaxBodySize(1024))
			w := do(t, s, "POST", est+"/simpleenroll", tt.body, tt.peer)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retry {
				t.Errorf("Retry-After %q, want %q", got, tt.retry)
			}
			if tt.status != 200 {
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("error Content-Type %q", ct)
				}
				if !strings.Contains(w.Body.String(), tt.reason) {
					t.Errorf("body %q lacks %q", w.Body, tt.reason)
				}
				if tt.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			certs, err := ParseCertsOnly(w.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 1 {
				t.Fatalf("%d certs, want the issued one only", len(certs))
			}
			checkLDevID(t, p, certs[0], "SN-0001", key.Public())
		})
	}
}

// checkLDevID checks an issued domain certificate.
func checkLDevID(t *testing.T, p *testPKI, c *x509.Certificate, serial string, pub crypto.PublicKey) {
	t.Helper()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(p.domainRoot)
	inter.AddCert(p.domainIssuer)
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("issued certificate does not verify: %v", err)
	}
	if c.Subject.SerialNumber != serial {
		t.Errorf("subject serialNumber %q", c.Subject.SerialNumber)
	}
	if c.IsCA {
		t.Error("issued a CA")
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || len(c.UnknownExtKeyUsage) != 0 {
		t.Errorf("EKU %v %v", c.ExtKeyUsage, c.UnknownExtKeyUsage)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %#x", c.KeyUsage)
	}
	if got, want := c.Subject.String(), "SERIALNUMBER="+serial+",CN="+serial; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	if len(c.DNSNames) != 1 || c.DNSNames[0] != serial+".pledges.test.example" || len(c.URIs)+len(c.IPAddresses)+len(c.EmailAddresses) != 0 {
		t.Errorf("SANs %v %v %v %v, want the templated DNS name only", c.DNSNames, c.URIs, c.IPAddresses, c.EmailAddresses)
	}
	if pub != nil && !publicKeysEqual(c.PublicKey, pub) {
		t.Error("certificate is not for the CSR's key")
	}
	if d := c.NotAfter.Sub(c.NotBefore); d < DefaultValidity || d > DefaultValidity+2*DefaultBackdate {
		t.Errorf("validity %v", d)
	}
}

func TestSimpleEnrollBinaryAndChain(t *testing.T) {
	p := newTestPKI(t)
	chain, key := p.idevid(t, "SN-B")
	csr := makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-B"}})
	s := newTestServer(t, WithChainInEnrollResponse(), WithBinaryResponses())
	w := do(t, s, "POST", est+"/simpleenroll", csr, &Peer{Chain: chain})
	if w.Code != 200 || !isDER(w.Body.Bytes()) {
		t.Fatalf("status %d, DER %v", w.Code, isDER(w.Body.Bytes()))
	}
	certs, err := ParseCertsOnly(w.Body.Bytes())
	if err != nil || len(certs) != 2 || !certs[1].Equal(p.domainIssuer) {
		t.Fatalf("certs %d err %v, want leaf + issuing CA", len(certs), err)
	}
}

func TestPeerFromTLSState(t *testing.T) {
	p := newTestPKI(t)
	chain, key := p.idevid(t, "SN-TLS")
	s := newTestServer(t)
	r, _ := http.NewRequest("POST", est+"/simpleenroll", bytes.NewReader(makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-TLS"}})))
	r.TLS = tlsState(chain)
	w := newRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("r.TLS peer: status %d %s", w.Code, w.Body)
	}
	// The context value wins over r.TLS.
	other, _ := p.idevid(t, "SN-OTHER")
	r2, _ := http.NewRequest("POST", est+"/simpleenroll", bytes.NewReader(makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-TLS"}})))
	r2.TLS = tlsState(chain)
	r2 = r2.WithContext(WithPeer(r2.Context(), Peer{Chain: other}))
	w = newRecorder()
	s.ServeHTTP(w, r2)
	if w.Code != 403 {
		t.Fatalf("context peer should win: status %d", w.Code)
	}
}

func TestPolicySeesRequest(t *testing.T) {
	p := newTestPKI(t)
	chain, key := p.idevid(t, "SN-P")
	var got *AuthzRequest
	s := newTestServer(t, WithPolicy(func(_ context.Context, r *AuthzRequest) error { got = r; return nil }))
	w := do(t, s, "POST", est+"/prof1/simpleenroll", makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-P"}}), &Peer{Chain: chain})
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if got.Operation != OpSimpleEnroll || got.Label != "prof1" || got.Peer.Leaf() != chain[0] || got.CSR == nil || got.Renewing != nil {
		t.Fatalf("policy saw %+v", got)
	}
}

func TestIssuedHook(t *testing.T) {
	p := newTestPKI(t)
	chain, key := p.idevid(t, "SN-H")
	csr := makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-H"}})
	var rec *Issuance
	s := newTestServer(t, WithIssuedHook(func(_ context.Context, r *Issuance) error { rec = r; return nil }))
	w := do(t, s, "POST", est+"/simpleenroll", csr, &Peer{Chain: chain})
	if w.Code != 200 || rec == nil {
		t.Fatalf("status %d, record %v", w.Code, rec)
	}
	certs, _ := ParseCertsOnly(w.Body.Bytes())
	if rec.SerialNumber.Cmp(certs[0].SerialNumber) != 0 || rec.Device != chain[0] || rec.Subject.SerialNumber != "SN-H" ||
		!rec.NotAfter.Equal(certs[0].NotAfter) || !rec.NotBefore.Equal(certs[0].NotBefore) || rec.Operation != OpSimpleEnroll {
		t.Fatalf("record %+v", rec)
	}
	if len(rec.Chain) != 2 || !rec.Chain[1].Equal(p.domainRoot) {
		t.Fatalf("record chain has %d certs, want issuing CA and root", len(rec.Chain))
	}
	s = newTestServer(t, WithIssuedHook(func(context.Context, *Issuance) error { return errors.New("disk full") }))
	w = do(t, s, "POST", est+"/simpleenroll", csr, &Peer{Chain: chain})
	if w.Code != 500 || strings.Contains(w.Body.String(), "disk full") {
		t.Fatalf("hook failure: status %d body %q", w.Code, w.Body)
	}
}

func TestSimpleReenroll(t *testing.T) {
	p := newTestPKI(t)
	idev, idevKey := p.idevid(t, "SN-R")
	// First enrollment gives the LDevID used to authenticate re-enrollment.
	s := newTestServer(t)
	w := do(t, s, "POST", est+"/simpleenroll", makeCSR(t, idevKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-R"}}), &Peer{Chain: idev})
	if w.Code != 200 {
		t.Fatalf("enroll: %d %s", w.Code, w.Body)
	}
	certs, _ := ParseCertsOnly(w.Body.Bytes())
	ldev := []*x509.Certificate{certs[0], p.domainIssuer}
	newKey := mustKey(t)
	sameSubject := csrOpts{subject: certs[0].Subject, dns: certs[0].DNSNames}
	// An LDevID from before the policy's DNS template: renewing it would
	// change its names.
	untemplated, _ := issueLeaf(t, p.domainIssuer, p.domainKey, pkix.Name{SerialNumber: "SN-R"})
	// A certificate from the domain CA's issuer but for a different device.
	other, _ := issueLeaf(t, p.domainIssuer, p.domainKey, pkix.Name{SerialNumber: "SN-X"})
	expired := func() []*x509.Certificate {
		c, _ := issueLeaf(t, p.domainIssuer, p.domainKey, certs[0].Subject)
		return c
	}()
	allowChange := WithPolicy(func(_ context.Context, r *AuthzRequest) error {
		if !r.SubjectChange || r.Renewing != untemplated[0] {
			return ErrForbidden("unexpected")
		}
		return nil
	})

	tests := []struct {
		name   string
		csr    []byte
		peer   *Peer
		opts   []Option
		status int
		reason string
	}{
		{"rekey keeps identity", makeCSR(t, newKey, sameSubject), &Peer{Chain: ldev}, nil, 200, ""},
		{"CSR without names keeps them", makeCSR(t, newKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-R"}}), &Peer{Chain: ldev}, nil, 200, ""},
		{"leaf only chain", makeCSR(t, newKey, sameSubject), &Peer{Chain: ldev[:1]}, nil, 200, ""},
		{"foreign certificate (IDevID)", makeCSR(t, newKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-R"}}), &Peer{Chain: idev}, nil, 403, "not issued by this CA"},
		{"CSR asks for another subject", makeCSR(t, newKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-R", CommonName: "other"}}), &Peer{Chain: ldev}, nil, 403, "CSR subject requests CN=other"},
		{"CSR asks for another SAN", makeCSR(t, newKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-R"}, dns: []string{"other.example"}}), &Peer{Chain: ldev}, nil, 403, "subjectAltName DNS:other.example"},
		{"names change refused", makeCSR(t, newKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-R"}}), &Peer{Chain: untemplated}, nil, 403, "keep subject"},
		{"names change allowed by policy", makeCSR(t, newKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-R"}}), &Peer{Chain: untemplated}, []Option{WithReenrollSubjectChange(), allowChange}, 200, ""},
		{"names change refused by policy", makeCSR(t, newKey, csrOpts{subject: pkix.Name{SerialNumber: "SN-R"}}), &Peer{Chain: untemplated}, []Option{WithReenrollSubjectChange()}, 403, "keep subject"},
		{"other device's serial", makeCSR(t, newKey, sameSubject), &Peer{Chain: other}, nil, 403, "does not match"},
		{"unauthenticated", makeCSR(t, newKey, sameSubject), nil, nil, 401, ""},
		{"expired certificate", makeCSR(t, newKey, sameSubject), &Peer{Chain: expired}, []Option{withClock(func() time.Time { return time.Now().Add(2 * time.Hour) })}, 403, "not issued by this CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.opts...)
			w := do(t, s, "POST", est+"/simplereenroll", encodeBase64Lines(tt.csr), tt.peer)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.reason) {
				t.Errorf("body %q lacks %q", w.Body, tt.reason)
			}
			if tt.status == 200 {
				got, err := ParseCertsOnly(w.Body.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				checkLDevID(t, p, got[0], "SN-R", newKey.Public())
			}
		})
	}
}

func TestServerKeyGen(t *testing.T) {
	p := newTestPKI(t)
	chain, key := p.idevid(t, "SN-K")
	s := newTestServer(t)
	for _, binary := range []bool{false, true} {
		var ctxf []func(context.Context) context.Context
		if binary {
			ctxf = append(ctxf, WithBinary)
		}
		w := do(t, s, "POST", est+"/serverkeygen", makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-K"}}), &Peer{Chain: chain}, ctxf...)
		if w.Code != 200 {
			t.Fatalf("status %d %s", w.Code, w.Body)
		}
		certs, priv, err := ParseServerKeyGen(w.Header().Get("Content-Type"), w.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			t.Fatalf("key %T", priv)
		}
		checkLDevID(t, p, certs[0], "SN-K", signer.Public())
		if publicKeysEqual(certs[0].PublicKey, key.Public()) {
			t.Fatal("serverkeygen certified the CSR's key")
		}
	}
	t.Run("encrypted key requested", func(t *testing.T) {
		csr := makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-K"}})
		csr = addAttributeForTest(t, csr, OIDDecryptKeyIdentifier, key)
		w := do(t, s, "POST", est+"/serverkeygen", csr, &Peer{Chain: chain})
		if w.Code != http.StatusNotImplemented {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("errors like simpleenroll", func(t *testing.T) {
		w := do(t, s, "POST", est+"/serverkeygen", []byte("%%%"), &Peer{Chain: chain})
		if w.Code != 400 {
			t.Fatalf("status %d", w.Code)
		}
	})
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		err    error
		status int
		body   string
	}{
		{errors.New("secret detail"), 500, "internal error\n"},
		{ErrPending(1500*time.Millisecond, "wait"), 202, "wait\n"},
		{&Error{Status: 418}, 418, "I'm a teapot\n"},
		{errorsJoinWrap(ErrForbidden("no")), 403, "no\n"},
	}
	for _, tt := range tests {
		w := newRecorder()
		writeError(w, tt.err)
		if w.Code != tt.status || w.Body.String() != tt.body {
			t.Errorf("%v: %d %q", tt.err, w.Code, w.Body)
		}
	}
	w := newRecorder()
	writeError(w, ErrPending(1500*time.Millisecond, "wait"))
	if w.Header().Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q, want rounded up to 2", w.Header().Get("Retry-After"))
	}
}

func TestPathPrefix(t *testing.T) {
	for _, prefix := range []string{"", "/est", "/a/b"} {
		s := newTestServer(t, WithPathPrefix(prefix))
		if w := do(t, s, "GET", prefix+"/cacerts", nil, nil); w.Code != 200 {
			t.Errorf("prefix %q: %d", prefix, w.Code)
		}
		if w := do(t, s, "GET", prefix+"/lbl/cacerts", nil, nil); w.Code != 200 {
			t.Errorf("prefix %q with label: %d", prefix, w.Code)
		}
	}
	for _, bad := range []string{"est", "/est/"} {
		if _, err := NewServer(newTestPKI(t).ca, WithPolicy(AllowAuthenticated), WithPathPrefix(bad)); err == nil {
			t.Errorf("accepted prefix %q", bad)
		}
	}
	if _, err := NewServer(newTestPKI(t).ca); err == nil {
		t.Error("NewServer without a Policy")
	}
	if _, err := NewServer(nil, WithPolicy(AllowAuthenticated)); err == nil {
		t.Error("NewServer without a CA")
	}
	if _, err := NewServer(newTestPKI(t).ca, WithPolicy(AllowAuthenticated), WithMaxBodySize(0)); err == nil {
		t.Error("NewServer with a zero body limit")
	}
}

// pendingCA is a backend whose CA queues requests for manual approval.
type pendingCA struct {
	*EmbeddedCA
	err error
}

func (c pendingCA) Enroll(context.Context, *EnrollRequest) (*Issued, error) { return nil, c.err }

func TestBackendErrors(t *testing.T) {
	p := newTestPKI(t)
	chain, key := p.idevid(t, "SN-Q")
	csr := makeCSR(t, key, csrOpts{subject: pkix.Name{SerialNumber: "SN-Q"}})
	tests := []struct {
		name   string
		err    error
		status int
		retry  string
		body   string
	}{
		{"pending", ErrPending(2*time.Minute, "queued at the CA"), 202, "120", "queued at the CA\n"},
		{"refused", &Error{Status: 403, Reason: "CA policy"}, 403, "", "CA policy\n"},
		{"unavailable", &Error{Status: 503, RetryAfter: 10 * time.Second, Reason: "CA down"}, 503, "10", "CA down\n"},
		{"internal", errors.New("hsm: PIN 1234 rejected"), 500, "", "internal error\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewServer(pendingCA{p.ca, tt.err}, WithPolicy(AllowAuthenticated), WithLogger(quietLogger()))
			if err != nil {
				t.Fatal(err)
			}
			w := do(t, s, "POST", est+"/simpleenroll", csr, &Peer{Chain: chain})
			if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retry || w.Body.String() != tt.body {
				t.Fatalf("got %d Retry-After %q body %q", w.Code, w.Header().Get("Retry-After"), w.Body)
			}
		})
	}
}
