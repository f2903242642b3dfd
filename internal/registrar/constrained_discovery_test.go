package registrar_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// allLinks is /.well-known/core unfiltered: the draft's cBRSKI links with
// their Content-Formats, then RFC 9148's EST-coaps links.
var allLinks = []string{
	`</.well-known/brski>;rt=brski`,
	`</.well-known/brski/rv>;rt=brski.rv;ct=836`,
	`</.well-known/brski/vs>;rt=brski.vs;ct="50 60"`,
	`</.well-known/brski/es>;rt=brski.es;ct="50 60"`,
	`</.well-known/est>;rt=ace.est`,
	`</.well-known/est/crts>;rt=ace.est.crts;ct="62 281 287"`,
	`</.well-known/est/sen>;rt=ace.est.sen;ct="281 287"`,
	`</.well-known/est/sren>;rt=ace.est.sren;ct="281 287"`,
	`</.well-known/est/att>;rt=ace.est.att;ct=285`,
}

// TestWellKnownCore: discovery over direct TLS answers link-format with
// RFC 6690 filtering as the draft's queries use it (rt=brski*, rt=brski,
// rt=ace.est*); an Accept it cannot meet is 406, a client without a
// certificate 401. Over atls-oscore the profile's Content-Format table has
// no link-format, and the answer says so (4.06).
func TestWellKnownCore(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	idevid := e.newDevice("CORE-1", true)
	hc := directClient(idevid)
	core := func(query, accept string) answer {
		u := e.Direct[0].URL + "/.well-known/core"
		if query != "" {
			u += "?" + query
		}
		return send(t, hc, http.MethodGet, u, "", accept, nil)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", allLinks},
		{"rt=brski*", allLinks[:4]},
		{"rt=brski", allLinks[:1]},
		{"rt=brski.rv", allLinks[1:2]},
		{"rt=ace.est*", allLinks[4:]},
		{"ct=836", allLinks[1:2]},
		{"ct=287", allLinks[5:8]},
		{"href=/.well-known/est/sen", allLinks[6:7]},
		{"href=/.well-known/brski/*", allLinks[1:4]},
		{"rt=ace.est*&ct=281", allLinks[5:8]},
		{"rt=core.rd", nil},
		{"if=sensor", nil},
	} {
		a := core(tc.query, "")
		if a.status != 200 || a.contentType != "application/link-format" || string(a.body) != strings.Join(tc.want, ",") {
			t.Errorf("?%s: %d %q\n%s\nwant\n%s", tc.query, a.status, a.contentType, a.body, strings.Join(tc.want, ","))
		}
	}
	if a := core("", "application/link-format"); a.status != 200 {
		t.Fatalf("Accept link-format: %d", a.status)
	}
	expect(t, "Accept JSON", core("", "application/json"), 406, "application/link-format (Content-Format 40) only")
	expect(t, "malformed query", core("rt=%zz", ""), 400, "malformed discovery query")
	anonymous := &http.Client{Transport: &http.Transport{TLSClientConfig: hc.Transport.(*http.Transport).TLSClientConfig.Clone()}}
	anonymous.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
	expect(t, "no certificate", send(t, anonymous, http.MethodGet, e.Direct[0].URL+"/.well-known/core", "", "", nil), 401, "no client certificate")

	d := e.oscoreDevice(t, "CORE-2")
	expect(t, "over atls-oscore", d.send(http.MethodGet, "/.well-known/core", "", "", nil), 406, "no Content-Format in the ATLS profile's table (5.6)")
}

// TestCACertsMultipart: /crts with Accept application/multipart-core (62,
// RFC 8710) answers the CA certificates as (287, DER) pairs in the CA
// backend's order, the issuer of domain certificates first, as the draft's
// "Multipart Content-Format" section requires; over direct TLS, since the
// profile's table has no 62 for atls-oscore.
func TestCACertsMultipart(t *testing.T) {
	e := newEnv(t, envOptions{approval: registrar.ApprovalAuto})
	hc := directClient(e.newDevice("MP-1", true))
	u := e.Direct[0].URL + enroll.PathCoapsCACerts
	pkcs7 := send(t, hc, http.MethodGet, u, "", "", nil)
	cas, err := enroll.ParseCertsOnly(pkcs7.body)
	if err != nil || len(cas) != 2 {
		t.Fatalf("/crts: %d certificates (%v)", len(cas), err)
	}
	a := send(t, hc, http.MethodGet, u, "", "application/multipart-core", nil)
	if a.status != 200 || a.contentType != "application/multipart-core" {
		t.Fatalf("/crts 62: %d %q %s", a.status, a.contentType, a.body)
	}
	var parts []any
	if err := cbor.Unmarshal(a.body, &parts); err != nil || len(parts) != 2*len(cas) {
		t.Fatalf("multipart-core: %d items (%v)", len(parts), err)
	}
	for i, c := range cas {
		if cf, ok := parts[2*i].(uint64); !ok || cf != 287 {
			t.Fatalf("part %d has Content-Format %v", i, parts[2*i])
		}
		if der, ok := parts[2*i+1].([]byte); !ok || !bytes.Equal(der, c.Raw) {
			t.Fatalf("part %d is not CA certificate %d", i, i)
		}
	}
	if a.body[0] != 0x80|byte(2*len(cas)) {
		t.Fatalf("the array's first byte %#x does not give its length, as the draft's note on the first block expects", a.body[0])
	}
	// An HTTP Accept list takes the first acceptable one.
	if a := send(t, hc, http.MethodGet, u, "", "application/json, application/multipart-core;q=0, application/pkix-cert", nil); a.contentType != "application/pkix-cert" {
		t.Fatalf("Accept list: %d %q", a.status, a.contentType)
	}
}
