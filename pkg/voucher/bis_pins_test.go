package voucher

import (
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// Issue 15, rfc8366bis: several pin leaves in a voucher, several proximity
// leaves in a pledge request, and BRSKI-PRM's
// agent-provided-proximity-registrar-cert.

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// A voucher pinning the domain three ways; the pledge goes by the one its
// request used, or, nonceless, by the draft's order.
func TestVoucherSeveralPins(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	other := newPKI(t, elliptic.P256())
	sum := sha256.Sum256(p.registrar.RawSubjectPublicKeyInfo)
	// As a MASA writes it: all three pinning leaves.
	voucherJS := func(nonce string) []byte {
		n := ""
		if nonce != "" {
			n = `"nonce":"` + nonce + `",`
		}
		return []byte(`{"ietf-voucher:voucher":{"assertion":"logged","created-on":"` + formatDateTime(p.now) + `","serial-number":"` + p.serial + `",` + n +
			`"pinned-domain-cert":"` + b64(p.domainCA.Raw) + `","pinned-domain-pubk":"` + b64(p.registrar.RawSubjectPublicKeyInfo) +
			`","pinned-domain-pubk-sha256":"` + b64(sum[:]) + `"}}`)
	}
	sign := func(js []byte) []byte {
		der, err := (&Signer{Cert: p.masa, Key: p.masaKey}).Sign(js)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	chain := []*x509.Certificate{p.registrar, p.domainCA}
	otherChain := []*x509.Certificate{other.registrar, other.domainCA}
	for _, tt := range []struct {
		name      string
		nonce     string
		requested Pin
		want      Pin
	}{
		{"request used proximity-registrar-cert", "n1", PinCert, PinCert},
		{"request used proximity-registrar-pubk", "n1", PinPubk, PinPubk},
		{"request used proximity-registrar-pubk-sha256", "n1", PinPubkSHA256, PinPubkSHA256},
		{"no preference: the draft's order", "n1", PinByOrder, PinPubkSHA256},
		{"nonceless: the draft's order, whatever was requested", "", PinCert, PinPubkSHA256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := p.voucherCheck(tt.nonce)
			c.RequestPin = tt.requested
			av, err := CheckVoucher(sign(voucherJS(tt.nonce)), c)
			if err != nil {
				t.Fatal(err)
			}
			if av.Pin != tt.want {
				t.Fatalf("pin %s, want %s", av.Pin, tt.want)
			}
			// Only the chosen one is handed on; the others are ignored.
			set := 0
			for _, b := range []bool{av.PinnedDomainCert != nil, av.PinnedDomainPubk != nil, av.PinnedDomainPubkSHA256 != nil} {
				if b {
					set++
				}
			}
			if set != 1 {
				t.Errorf("%d pins handed on", set)
			}
			if err := av.PinsRegistrar(chain, p.now); err != nil {
				t.Errorf("this registrar: %v", err)
			}
			wantCode(t, av.PinsRegistrar(otherChain, p.now), ErrProximityMismatch)
			wantCode(t, av.PinsRegistrar(nil, p.now), ErrProximityMismatch)
		})
	}
	// A voucher that lacks what the request used still pins by the order.
	vb := p.voucher(t, "n1", nil) // pinned-domain-cert only
	c := p.voucherCheck("n1")
	c.RequestPin = PinPubkSHA256
	av, err := CheckVoucher(vb, c)
	if err != nil || av.Pin != PinCert || av.PinnedDomainCert == nil {
		t.Fatalf("cert-only voucher: %v, %v", av, err)
	}
	// Each pin is still of its type, and one there must be.
	for _, bad := range []string{
		strings.Replace(string(voucherJS("n1")), `"pinned-domain-pubk":"`+b64(p.registrar.RawSubjectPublicKeyInfo), `"pinned-domain-pubk":"AAAA`, 1),
		strings.Replace(string(voucherJS("n1")), `"pinned-domain-pubk-sha256":"`+b64(sum[:]), `"pinned-domain-pubk-sha256":"`+b64(sum[:31]), 1),
	} {
		_, err := CheckVoucher(sign([]byte(bad)), p.voucherCheck("n1"))
		wantOutcome(t, err, ErrMalformed, http.StatusBadRequest)
	}
}

// A pledge request naming the registrar several ways, as a pledge that
// works on constrained and unconstrained networks writes it: the registrar
// and the MASA consider each, in the draft's order, and refuse if any
// names another registrar.
func TestPledgeRequestSeveralProximityLeaves(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	other := newPKI(t, elliptic.P256())
	leaves := func(sha, pubk, cert *x509.Certificate) string {
		var s []string
		if sha != nil {
			sum := sha256.Sum256(sha.RawSubjectPublicKeyInfo)
			s = append(s, `"proximity-registrar-pubk-sha256":"`+b64(sum[:])+`"`)
		}
		if pubk != nil {
			s = append(s, `"proximity-registrar-pubk":"`+b64(pubk.RawSubjectPublicKeyInfo)+`"`)
		}
		if cert != nil {
			s = append(s, `"proximity-registrar-cert":"`+b64(cert.Raw)+`"`)
		}
		return strings.Join(s, ",")
	}
	pvr := func(assertion, prox string) []byte {
		js := `{"ietf-voucher-request:voucher":{"assertion":"` + assertion + `","serial-number":"` + p.serial + `","nonce":"n1",` + prox + `}}`
		der, err := (&Signer{Cert: p.idevid, Key: p.idevidKey}).Sign([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	me, them := p.registrar, other.registrar
	agent := func(c *x509.Certificate) string {
		return `"agent-provided-proximity-registrar-cert":"` + b64(c.Raw) + `"`
	}
	for _, tt := range []struct {
		name, assertion, prox string
		want                  *Error
		leaf                  string // the reason names it
	}{
		{"all three, this registrar", "proximity", leaves(me, me, me), nil, ""},
		{"pubk alone", "proximity", leaves(nil, me, nil), nil, ""},
		{"pubk-sha256 alone", "proximity", leaves(me, nil, nil), nil, ""},
		{"sha256 of another registrar, first in order", "proximity", leaves(them, me, me), ErrProximityMismatch, leafProximityRegistrarSHA256},
		{"pubk of another registrar", "proximity", leaves(me, them, me), ErrProximityMismatch, leafProximityRegistrarPubk},
		{"cert of another registrar, last in order", "proximity", leaves(me, me, them), ErrProximityMismatch, leafProximityRegistrarCert},
		{"pubk not a key", "proximity", `"proximity-registrar-pubk":"AAAA"`, ErrMalformed, ""},
		{"none", "proximity", `"created-on":"` + formatDateTime(p.now) + `"`, ErrMissingLeaf, ""},
		// BRSKI-PRM: the registrar-agent relays the registrar's certificate.
		{"agent-proximity with the agent-provided cert", "agent-proximity", agent(me), nil, ""},
		{"agent-proximity with another registrar's", "agent-proximity", agent(them), ErrProximityMismatch, leafAgentProvidedProximityRegistrarCert},
		{"agent-proximity without it", "agent-proximity", leaves(nil, nil, me), ErrMissingLeaf, leafAgentProvidedProximityRegistrarCert},
		{"agent-provided cert not a certificate", "agent-proximity", `"agent-provided-proximity-registrar-cert":"AAAA"`, ErrMalformed, ""},
		{"agent-sign-cert not a certificate", "agent-proximity", agent(me) + `,"agent-sign-cert":"AAAA"`, ErrMalformed, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			signed := pvr(tt.assertion, tt.prox)
			pr, err := CheckPledgeRequest(signed, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				// The MASA's check of the same request, as prior.
				rvr := p.registrarRequest(t, signed, nil)
				rr, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
				if err != nil {
					t.Fatalf("MASA: %v", err)
				}
				if rr.Prior.Assertion != Assertion(tt.assertion) || pr.Request.Assertion != Assertion(tt.assertion) {
					t.Errorf("assertion %q", rr.Prior.Assertion)
				}
				return
			}
			e := wantCode(t, err, tt.want)
			if e != nil && tt.leaf != "" && !strings.Contains(e.Reason, tt.leaf) {
				t.Errorf("reason %q does not name %s", e.Reason, tt.leaf)
			}
			if tt.want == ErrProximityMismatch {
				// And the MASA refuses it too, when a registrar forwards it
				// anyway.
				sc, _ := ParseSigned(signed)
				prior, _ := ParseVoucherRequestJSON(sc.Content)
				rr, _ := NewRegistrarRequest(signed, prior, p.idevid, p.now)
				rvr, _ := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).SignVoucherRequest(rr)
				_, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
				wantOutcome(t, err, ErrProximityMismatch, http.StatusForbidden)
			}
		})
	}
	// A registrar request carries none of the pledge's leaves, the
	// agent-provided one included.
	good := pvr("proximity", leaves(nil, nil, me))
	rvr := p.registrarRequest(t, good, func(r *VoucherRequest) { r.AgentProvidedProximityRegistrarCert = me.Raw })
	_, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), At: p.now})
	wantOutcome(t, err, ErrForbiddenLeaf, http.StatusBadRequest)
}
