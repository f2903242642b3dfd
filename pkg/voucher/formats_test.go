package voucher

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	jose "github.com/go-jose/go-jose/v4"
)

// The JWS and COSE formats through the three role checks, as Landfall's
// own pledge, registrar and MASA would produce them, and what each check
// refuses.

var newFormats = []Format{FormatJWS, FormatCOSE}

// onboard runs one pledge request, registrar request and voucher in
// format f and returns the three signed objects.
func onboard(t *testing.T, p *testPKI, f Format) (pvr, rvr, voucher []byte) {
	t.Helper()
	nonce, _ := NewNonce()
	req, err := NewPledgeRequest(PledgeRequestParams{SerialNumber: p.serial, Nonce: nonce, RegistrarCert: p.registrar, CreatedOn: p.now})
	if err != nil {
		t.Fatal(err)
	}
	// The draft's pledge carries no certificate in COSE; in JWS x5c.
	pledge := &Signer{Cert: p.idevid, Key: p.idevidKey, COSE: COSEOptions{Certs: COSENoCerts}}
	if pvr, err = pledge.SignVoucherRequestAs(f, req); err != nil {
		t.Fatal(err)
	}
	accepted, err := CheckPledgeRequest(pvr, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, ManufacturerRoots: poolOf(p.mfgCA), At: p.now, Format: f})
	if err != nil {
		t.Fatalf("registrar: %v", err)
	}
	if accepted.Request.Nonce != nonce {
		t.Fatalf("nonce %q became %q", nonce, accepted.Request.Nonce)
	}
	rr, err := NewRegistrarRequest(accepted.CMS, accepted.Request, accepted.IDevID, p.now)
	if err != nil {
		t.Fatal(err)
	}
	// The registrar's x5bag carries the pledge's IDevID too (the draft's
	// "all the certificates that the Pledge used to identify itself").
	registrar := &Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA, p.idevid}}
	if rvr, err = registrar.SignVoucherRequestAs(f, rr); err != nil {
		t.Fatal(err)
	}
	got, err := CheckRegistrarRequest(rvr, RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(p.mfgCA), At: p.now, Format: f})
	if err != nil {
		t.Fatalf("MASA: %v", err)
	}
	if !got.DomainCert.Equal(p.domainCA) || !got.IDevID.Equal(p.idevid) {
		t.Fatalf("MASA pins %s for %s", got.DomainCert.Subject, got.IDevID.Subject)
	}
	v, err := NewVoucher(got.Request, VoucherParams{Assertion: AssertionLogged, DomainCert: got.DomainCert, CreatedOn: p.now})
	if err != nil {
		t.Fatal(err)
	}
	masa := &Signer{Cert: p.masa, Key: p.masaKey}
	if voucher, err = masa.SignVoucherAs(f, v); err != nil {
		t.Fatal(err)
	}
	check := p.voucherCheck(nonce)
	check.Format = f
	av, err := CheckVoucher(voucher, check)
	if err != nil {
		t.Fatalf("pledge: %v", err)
	}
	if !av.PinnedDomainCert.Equal(p.domainCA) || !av.Signer.Equal(p.masa) {
		t.Fatalf("pledge accepted %+v", av)
	}
	return pvr, rvr, voucher
}

func TestFormatsRoundTrip(t *testing.T) {
	for _, cv := range curves {
		p := newPKI(t, cv.curve)
		for _, f := range newFormats {
			t.Run(cv.name+"/"+f.String(), func(t *testing.T) {
				pvr, rvr, voucher := onboard(t, p, f)
				for _, b := range [][]byte{pvr, rvr, voucher} {
					if got, ok := DetectFormat(b); !ok || got != f {
						t.Errorf("DetectFormat %v %v", got, ok)
					}
				}
				if f != FormatCOSE {
					return
				}
				// The registrar strips the MASA's x5bag before relaying;
				// the pledge then needs the MASA's certificate.
				stripped, err := StripCOSECerts(voucher)
				if err != nil {
					t.Fatal(err)
				}
				if len(stripped) >= len(voucher)-len(p.masa.Raw) {
					t.Errorf("strip left %d of %d bytes", len(stripped), len(voucher))
				}
				sc, _ := ParseCOSE(voucher)
				v, _ := sc.ParseVoucher()
				check := p.voucherCheck(v.Nonce)
				check.Format = FormatCOSE
				_, err = CheckVoucher(stripped, check)
				wantCode(t, err, ErrNoSignerCert)
				check.MASACerts = []*x509.Certificate{p.masa}
				if _, err := CheckVoucher(stripped, check); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// The JWS is the General JSON Serialization with alg, typ and x5c in the
// protected header, as the draft's figure 2 shows.
func TestJWSShape(t *testing.T) {
	p := newPKI(t, elliptic.P384())
	b, err := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA}}).SignJWS([]byte(`{"ietf-voucher-request:voucher":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	if len(env) != 2 || env["payload"] == nil || env["signatures"] == nil {
		t.Fatalf("members %s", b)
	}
	var sigs []map[string]string
	json.Unmarshal(env["signatures"], &sigs)
	if len(sigs) != 1 || len(sigs[0]) != 2 {
		t.Fatalf("signatures %s", env["signatures"])
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sigs[0]["protected"])
	var hdr struct {
		Alg, Typ string
		X5c      []string
	}
	json.Unmarshal(raw, &hdr)
	if hdr.Alg != "ES384" || hdr.Typ != "voucher-jws+json" || len(hdr.X5c) != 2 {
		t.Errorf("protected header %s", raw)
	}
	if der, _ := base64.StdEncoding.DecodeString(hdr.X5c[0]); !bytes.Equal(der, p.registrar.Raw) {
		t.Error("x5c[0] is not the signer")
	}
	sig, _ := base64.RawURLEncoding.DecodeString(sigs[0]["signature"])
	if len(sig) != 96 {
		t.Errorf("ES384 signature of %d bytes", len(sig))
	}
}

// The COSE_Sign1 is tag 18 with alg alone in the protected header, as the
// draft's examples (h'A10126' for ES256).
func TestCOSEShape(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	b, err := (&Signer{Cert: p.masa, Key: p.masaKey}).SignCOSE([]byte{0xa0})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26}) {
		t.Errorf("starts % x", b[:8])
	}
	for _, tc := range []struct {
		name string
		o    COSEOptions
		want func(*coseParsed) bool
	}{
		{"x5bag", COSEOptions{}, func(c *coseParsed) bool {
			return len(c.certs) == 1 && !c.chain && c.msg.Unprotected[uint64(coseX5Bag)] != nil
		}},
		{"x5chain protected", COSEOptions{Certs: COSEX5Chain, Protected: true}, func(c *coseParsed) bool { return c.chain && c.msg.Unprotected[uint64(coseX5Chain)] == nil }},
		{"kid", COSEOptions{Certs: COSENoCerts, KID: []byte{0x59, 0xab, 0x3e}}, func(c *coseParsed) bool { return c.certs == nil && bytes.Equal(c.kid, []byte{0x59, 0xab, 0x3e}) }},
	} {
		b, err := (&Signer{Cert: p.masa, Key: p.masaKey, COSE: tc.o}).SignCOSE([]byte{0xa0})
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseCOSE(b)
		if err != nil || !tc.want(c) {
			t.Errorf("%s: %v %+v", tc.name, err, c)
		}
		sc, err := VerifyCOSE(b, VerifyOptions{Roots: poolOf(p.mfgCA), Intermediates: []*x509.Certificate{p.registrar, p.masa}, At: p.now})
		if err != nil || !sc.Signer.Equal(p.masa) {
			t.Errorf("%s: %v", tc.name, err)
		}
		// Protected certificates stay when stripping.
		s, _ := StripCOSECerts(b)
		if c2, _ := parseCOSE(s); tc.o.Protected && len(c2.certs) != 1 {
			t.Errorf("%s: strip removed a protected certificate", tc.name)
		}
	}
}

// jwsWith builds a JWS over payload with the given protected header,
// signed with key (nil: 64 zero bytes of signature).
func jwsWith(t *testing.T, hdr map[string]any, payload []byte, key *ecdsa.PrivateKey, alg algorithm) []byte {
	t.Helper()
	h, _ := json.Marshal(hdr)
	prot := base64.RawURLEncoding.EncodeToString(h)
	pl := base64.RawURLEncoding.EncodeToString(payload)
	sig := make([]byte, 64)
	if key != nil {
		var err error
		if sig, err = signRaw(key, alg, []byte(prot+"."+pl)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(map[string]any{"payload": pl, "signatures": []map[string]string{{"protected": prot, "signature": base64.RawURLEncoding.EncodeToString(sig)}}})
	return b
}

// coseWith builds a COSE_Sign1 with the given headers, signed with key.
func coseWith(t *testing.T, prot, unprot map[int64]any, payload []byte, key *ecdsa.PrivateKey, alg algorithm) []byte {
	t.Helper()
	pb, _ := cborEnc.Marshal(prot)
	tbs, _ := sigStructure(pb, payload)
	sig, err := signRaw(key, alg, tbs)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cborEnc.Marshal(cbor.Tag{Number: 18, Content: []any{pb, unprot, payload, sig}})
	return b
}

func TestFormatsRefuse(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	other := newPKI(t, elliptic.P256())
	es256, es384 := algorithms[0], algorithms[1]
	x5c := []string{base64.StdEncoding.EncodeToString(p.masa.Raw)}
	v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "-_XE9zK9q8Ll1qylMtLKeg", PinnedDomainCert: p.domainCA.Raw}}
	js, _ := v.MarshalJSON()
	cb, _ := v.MarshalCBOR()
	masaKey := p.masaKey.(*ecdsa.PrivateKey)
	masa := &Signer{Cert: p.masa, Key: p.masaKey}
	jwsV, _ := masa.SignVoucherJWS(v)
	coseV, _ := masa.SignVoucherCOSE(v)
	opts := VerifyOptions{Roots: poolOf(p.mfgCA), At: p.now}

	// go-jose writes no x5c unless asked: the MASA's certificate then
	// has to be supplied.
	js0, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: masaKey}, nil)
	obj, _ := js0.Sign(js)
	noX5c := []byte(obj.FullSerialize())

	tamper := func(b []byte, from, to string) []byte {
		if !bytes.Contains(b, []byte(from)) {
			t.Fatalf("no %q to tamper with", from)
		}
		return bytes.Replace(b, []byte(from), []byte(to), 1)
	}
	jwsTampered := func() []byte {
		var env map[string]any
		json.Unmarshal(jwsV, &env)
		pl, _ := base64.RawURLEncoding.DecodeString(env["payload"].(string))
		env["payload"] = base64.RawURLEncoding.EncodeToString(tamper(pl, p.serial, "LF-0002"))
		b, _ := json.Marshal(env)
		return b
	}()

	for _, tc := range []struct {
		name   string
		f      Format
		signed []byte
		opts   VerifyOptions
		want   *Error
		status int
	}{
		{"jws ok", FormatJWS, jwsV, opts, nil, 0},
		{"jws wrong anchor", FormatJWS, jwsV, VerifyOptions{Roots: poolOf(other.mfgCA), At: p.now}, ErrUntrusted, 403},
		{"jws tampered payload", FormatJWS, jwsTampered, opts, ErrBadSignature, 403},
		{"jws wrong signer in x5c", FormatJWS, jwsWith(t, map[string]any{"alg": "ES256", "x5c": x5c}, js, other.masaKey.(*ecdsa.PrivateKey), es256), opts, ErrBadSignature, 403},
		{"jws alg ES384 on a P-256 key", FormatJWS, jwsWith(t, map[string]any{"alg": "ES384", "x5c": x5c}, js, nil, es384), opts, ErrUnsupportedAlgorithm, 400},
		{"jws alg none", FormatJWS, jwsWith(t, map[string]any{"alg": "none", "x5c": x5c}, js, nil, es256), opts, ErrUnsupportedAlgorithm, 400},
		{"jws alg HS256", FormatJWS, jwsWith(t, map[string]any{"alg": "HS256", "x5c": x5c}, js, nil, es256), opts, ErrUnsupportedAlgorithm, 400},
		{"jws crit", FormatJWS, jwsWith(t, map[string]any{"alg": "ES256", "x5c": x5c, "crit": []string{"b64"}, "b64": false}, js, masaKey, es256), opts, ErrMalformed, 400},
		{"jws other typ", FormatJWS, jwsWith(t, map[string]any{"alg": "ES256", "x5c": x5c, "typ": "JWT"}, js, masaKey, es256), opts, ErrUnsupportedContent, 415},
		{"jws without x5c", FormatJWS, noX5c, opts, ErrNoSignerCert, 403},
		{"jws without x5c, MASA supplied", FormatJWS, noX5c, VerifyOptions{Roots: poolOf(p.mfgCA), At: p.now, Intermediates: []*x509.Certificate{p.registrar, p.masa}}, nil, 0},
		{"jws compact", FormatJWS, []byte(func() string { s, _ := obj.CompactSerialize(); return s }()), opts, ErrMalformed, 400},
		{"jws two signatures", FormatJWS, tamper(jwsV, `"signatures":[{`, `"signatures":[{"protected":"e30","signature":""},{`), opts, ErrMalformed, 400},
		{"jws unknown member", FormatJWS, tamper(jwsV, `"payload"`, `"x":1,"payload"`), opts, ErrMalformed, 400},
		{"cms bytes as jws", FormatJWS, p.voucher(t, "n", nil), opts, ErrMalformed, 400},

		{"cose ok", FormatCOSE, coseV, opts, nil, 0},
		{"cose wrong anchor", FormatCOSE, coseV, VerifyOptions{Roots: poolOf(other.mfgCA), At: p.now}, ErrUntrusted, 403},
		{"cose tampered payload", FormatCOSE, tamper(coseV, p.serial, "LF-0002"), opts, ErrBadSignature, 403},
		{"cose wrong signer in x5chain", FormatCOSE, coseWith(t, map[int64]any{1: -7}, map[int64]any{33: p.masa.Raw}, cb, other.masaKey.(*ecdsa.PrivateKey), es256), opts, ErrBadSignature, 403},
		{"cose alg ES384 on a P-256 key", FormatCOSE, coseWith(t, map[int64]any{1: -35}, map[int64]any{33: p.masa.Raw}, cb, newKey(t, elliptic.P384()), es384), opts, ErrUnsupportedAlgorithm, 400},
		{"cose alg EdDSA", FormatCOSE, coseWith(t, map[int64]any{1: -8}, map[int64]any{32: p.masa.Raw}, cb, masaKey, es256), opts, ErrUnsupportedAlgorithm, 400},
		{"cose alg unprotected", FormatCOSE, coseWith(t, map[int64]any{}, map[int64]any{1: -7, 32: p.masa.Raw}, cb, masaKey, es256), opts, ErrUnsupportedAlgorithm, 400},
		{"cose label in both headers", FormatCOSE, coseWith(t, map[int64]any{1: -7, 4: []byte("a")}, map[int64]any{4: []byte("b"), 32: p.masa.Raw}, cb, masaKey, es256), opts, ErrMalformed, 400},
		{"cose crit unknown", FormatCOSE, coseWith(t, map[int64]any{1: -7, 2: []int{99}, 99: 1}, map[int64]any{32: p.masa.Raw}, cb, masaKey, es256), opts, ErrMalformed, 400},
		{"cose without x5bag", FormatCOSE, coseWith(t, map[int64]any{1: -7}, map[int64]any{}, cb, masaKey, es256), opts, ErrNoSignerCert, 403},
		{"cose without x5bag, with a kid, MASA supplied", FormatCOSE, coseWith(t, map[int64]any{1: -7}, map[int64]any{4: []byte{0x59, 0xab, 0x3e}}, cb, masaKey, es256), VerifyOptions{Roots: poolOf(p.mfgCA), At: p.now, Intermediates: []*x509.Certificate{p.registrar, p.masa}}, nil, 0},
		{"cose x5bag of text", FormatCOSE, coseWith(t, map[int64]any{1: -7}, map[int64]any{32: "MIIB"}, cb, masaKey, es256), opts, ErrMalformed, 400},
		{"cose other tag", FormatCOSE, append([]byte{0xd1}, coseV[1:]...), opts, ErrUnsupportedContent, 415},
		{"cose untagged", FormatCOSE, coseV[1:], opts, nil, 0},
		{"cose detached payload", FormatCOSE, func() []byte {
			b, _ := cborEnc.Marshal(cbor.Tag{Number: 18, Content: []any{[]byte{0xa1, 0x01, 0x26}, map[int]any{}, nil, make([]byte, 64)}})
			return b
		}(), opts, ErrMalformed, 400},
		{"cose short signature", FormatCOSE, func() []byte {
			b, _ := cborEnc.Marshal(cbor.Tag{Number: 18, Content: []any{[]byte{0xa1, 0x01, 0x26}, map[int]any{32: p.masa.Raw}, cb, make([]byte, 63)}})
			return b
		}(), opts, ErrBadSignature, 403},
		{"cms bytes as cose", FormatCOSE, p.voucher(t, "n", nil), opts, ErrMalformed, 400},
		{"jws bytes as cose", FormatCOSE, jwsV, opts, ErrMalformed, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := VerifyAs(tc.f, tc.signed, tc.opts)
			wantOutcome(t, err, tc.want, tc.status)
			if tc.want == nil {
				if got, err := sc.ParseVoucher(); err != nil || got.SerialNumber != p.serial {
					t.Errorf("content %v", err)
				}
			}
		})
	}
}

// The role checks refuse the same things in every format.
func TestFormatsRoleChecks(t *testing.T) {
	p := newPKI(t, elliptic.P256())
	other := newPKI(t, elliptic.P256())
	for _, f := range newFormats {
		t.Run(f.String(), func(t *testing.T) {
			// A pledge request signed by another device than the
			// session's: 401 at the registrar.
			req, _ := NewPledgeRequest(PledgeRequestParams{SerialNumber: other.serial, Nonce: "bm9uY2U", RegistrarCert: p.registrar, CreatedOn: p.now})
			signed, err := (&Signer{Cert: other.idevid, Key: other.idevidKey}).SignVoucherRequestAs(f, req)
			if err != nil {
				t.Fatal(err)
			}
			_, err = CheckPledgeRequest(signed, PledgeRequestCheck{PeerCert: p.idevid, RegistrarCert: p.registrar, At: p.now, Format: f})
			wantOutcome(t, err, ErrWrongSigner, http.StatusUnauthorized)
			// Pinning another registrar.
			_, err = CheckPledgeRequest(signed, PledgeRequestCheck{PeerCert: other.idevid, RegistrarCert: other.registrar, At: p.now, Format: f})
			wantCode(t, err, ErrProximityMismatch)

			// A registrar request signed without id-kp-cmcRA.
			pvr, _, _ := onboard(t, p, f)
			sc, _ := VerifyAs(f, pvr, VerifyOptions{Intermediates: []*x509.Certificate{p.idevid}})
			pr, _ := sc.ParseVoucherRequest()
			rr, _ := NewRegistrarRequest(pvr, pr, p.idevid, p.now)
			notRA, _ := (&Signer{Cert: p.masa, Key: p.masaKey, Chain: []*x509.Certificate{p.idevid}}).SignVoucherRequestAs(f, rr)
			_, err = CheckRegistrarRequest(notRA, RegistrarRequestCheck{ManufacturerRoots: poolOf(p.mfgCA), At: p.now, Format: f})
			wantOutcome(t, err, ErrWrongSigner, http.StatusForbidden)
			// A nonce the pledge did not send.
			rr.Nonce = "b3RoZXI"
			rvr, _ := (&Signer{Cert: p.registrar, Key: p.registrarKey, Chain: []*x509.Certificate{p.domainCA, p.idevid}}).SignVoucherRequestAs(f, rr)
			_, err = CheckRegistrarRequest(rvr, RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(p.mfgCA), At: p.now, Format: f})
			wantCode(t, err, ErrNonceMismatch)
			// The prior from another manufacturer.
			_, err = CheckRegistrarRequest(rvr, RegistrarRequestCheck{DomainRoots: poolOf(p.domainCA), ManufacturerRoots: poolOf(other.mfgCA), At: p.now, Format: f})
			wantCode(t, err, ErrUntrusted)

			// A voucher for another nonce, and an expired one.
			v := &Voucher{Artifact: Artifact{CreatedOn: p.now, Assertion: AssertionLogged, SerialNumber: p.serial, Nonce: "bm9uY2U", PinnedDomainCert: p.domainCA.Raw}}
			vb, _ := (&Signer{Cert: p.masa, Key: p.masaKey}).SignVoucherAs(f, v)
			check := p.voucherCheck("b3RoZXI")
			check.Format = f
			_, err = CheckVoucher(vb, check)
			wantCode(t, err, ErrNonceMismatch)
			check.Nonce = "bm9uY2U"
			check.At = p.masaValidTill.Add(1)
			_, err = CheckVoucher(vb, check)
			wantCode(t, err, ErrExpired)
		})
	}
}

func TestFormatNames(t *testing.T) {
	for _, tc := range []struct {
		mt   string
		want Format
	}{
		{"application/voucher-cms+json", FormatCMS},
		{"application/voucher-jws+json; charset=utf-8", FormatJWS},
		{"Application/Voucher+COSE", FormatCOSE},
	} {
		if got, err := FormatOfMediaType(tc.mt); err != nil || got != tc.want || got.MediaType() != strings.ToLower(strings.Split(tc.mt, ";")[0]) {
			t.Errorf("%s: %v %v", tc.mt, got, err)
		}
		if got, err := ParseFormat(tc.want.String()); err != nil || got != tc.want {
			t.Errorf("%s: %v", tc.want, err)
		}
	}
	_, err := FormatOfMediaType("application/json")
	wantOutcome(t, err, ErrUnsupportedContent, http.StatusUnsupportedMediaType)
	_, err = ParseFormat("xml")
	wantCode(t, err, ErrUnsupportedContent)
	if _, ok := DetectFormat([]byte("x")); ok {
		t.Error("x detected")
	}
	_ = rand.Reader
}
