// Package bench holds the crypto floor of one onboarding: exactly the
// public-key operations the server side of one RFC 8995 onboarding has
// to do, with the keys and curves of the sandbox deployment (the MASA's
// keys from masa.InitKeys, the registrar's from registrar.InitState, a
// P-256 IDevID minted by the MASA's CA). cmd/loadgen times it after a
// load (--floor) and divides the servers' CPU per onboarding by it; the
// benchmark (go test -bench . ./internal/bench/) times it alone.
//
// The operations, per onboarding, for the ATLS modes through a
// TLS-terminating balancer (direct mode has no outer handshake, and its
// one TLS handshake is the inner one's):
//
//  1. outer TLS handshake at the balancer: X25519 key share and shared
//     secret, one ECDSA P-256 signature (CertificateVerify). nginx does
//     this with OpenSSL; the floor times Go's implementation of the same
//     operations.
//  2. inner ATLS handshake, server side: X25519MLKEM768 (an ML-KEM-768
//     encapsulation, an X25519 key share and shared secret; Go's default
//     first choice, which the pledge offers), one ECDSA P-256 signature
//     (CertificateVerify with the registrar's key) and the client's
//     certificate: its CertificateVerify and its IDevID chain (the
//     manufacturer CA's signature on the IDevID), two verifications.
//  3. the pledge voucher-request: its CMS signature, one verification (the
//     IDevID chain was verified in 2).
//  4. the registrar voucher-request: one signature with the registrar's key.
//  5. the MASA: the registrar voucher-request's signature, the registrar's
//     chain to the owner's domain root (registrar certificate by the
//     issuing CA, issuing CA by the root), the prior-signed pledge
//     voucher-request's signature and the IDevID by the MASA's CA: five
//     verifications; then the voucher's signature with the MASA signer key.
//  6. the registrar checks the voucher: its signature and the signer's
//     certificate by the manufacturer CA, two verifications.
//  7. simpleenroll: the CSR's signature (one verification) and the new
//     certificate's signature with the domain issuing key.
//
// In all: 5 signatures, 11 verifications, 2 X25519 exchanges and one
// ML-KEM-768 encapsulation (direct mode: 4, 11, 1 and 1). Hashing,
// symmetric crypto (the TLS records, OSCORE), the TLS between registrar
// and MASA (kept alive) and everything the pledge does are not in it.
package bench

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/registrar"
)

// Floor holds the keys, certificates and messages of one onboarding.
type Floor struct {
	masaKeys  *masa.Keys
	regKey    crypto.Signer // the registrar's TLS and voucher-request key
	regChain  []*x509.Certificate
	domainCA  *x509.Certificate // issuing
	domainKey crypto.Signer
	root      *x509.Certificate
	lbKey     *ecdsa.PrivateKey
	idevid    *x509.Certificate
	devKey    *ecdsa.PrivateKey
	csr       *x509.CertificateRequest
	digest    []byte
	// signatures made once, verified by every run
	devSig, regSig, masaSig []byte
	kemKey                  *mlkem.DecapsulationKey768
	peerX                   *ecdh.PublicKey
}

// New makes the sandbox's keys in a temporary directory, removed before
// it returns.
func New() (*Floor, error) {
	dir, err := os.MkdirTemp("", "landfall-floor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	f := &Floor{}
	if f.masaKeys, err = masa.InitKeys(filepath.Join(dir, "masa"), masa.InitOptions{Organization: "Example Manufacturer", Hosts: []string{"127.0.0.1"}}); err != nil {
		return nil, err
	}
	st := filepath.Join(dir, "registrar")
	if err := registrar.InitState(st, registrar.InitOptions{Domain: "example.net", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
		return nil, err
	}
	state, err := registrar.LoadState(st)
	if err != nil {
		return nil, err
	}
	var ok bool
	if f.regKey, ok = state.TLSCert.PrivateKey.(crypto.Signer); !ok {
		return nil, errors.New("bench: registrar key cannot sign")
	}
	for _, der := range state.TLSCert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		f.regChain = append(f.regChain, c)
	}
	f.root = state.DomainRoot
	if f.domainCA, f.domainKey, err = loadIssuer(state.DomainCA.IssuerFile, state.DomainCA.IssuerKeyFile); err != nil {
		return nil, err
	}
	if len(f.regChain) < 2 {
		f.regChain = append(f.regChain, f.domainCA)
	}
	if f.lbKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if f.devKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{SerialNumber: "FLOOR-1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.masaKeys.CACert, f.devKey.Public(), f.masaKeys.CAKey)
	if err != nil {
		return nil, err
	}
	if f.idevid, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{SerialNumber: "FLOOR-1"}}, f.devKey)
	if err != nil {
		return nil, err
	}
	if f.csr, err = x509.ParseCertificateRequest(csrDER); err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte("one onboarding's message"))
	f.digest = h[:]
	if f.devSig, err = ecdsa.SignASN1(rand.Reader, f.devKey, f.digest); err != nil {
		return nil, err
	}
	if f.regSig, err = f.regKey.Sign(rand.Reader, f.digest, crypto.SHA256); err != nil {
		return nil, err
	}
	if f.masaSig, err = f.masaKeys.SignerKey.Sign(rand.Reader, f.digest, crypto.SHA256); err != nil {
		return nil, err
	}
	if f.kemKey, err = mlkem.GenerateKey768(); err != nil {
		return nil, err
	}
	peer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	f.peerX = peer.PublicKey()
	return f, f.Onboarding(true)
}

func loadIssuer(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	blk, _ := pem.Decode(cb)
	if blk == nil {
		return nil, nil, fmt.Errorf("bench: %s: no PEM", certFile)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	if blk, _ = pem.Decode(kb); blk == nil {
		return nil, nil, fmt.Errorf("bench: %s: no PEM", keyFile)
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(blk.Bytes); err != nil {
		if key, err = x509.ParseECPrivateKey(blk.Bytes); err != nil {
			return nil, nil, fmt.Errorf("bench: %s: %w", keyFile, err)
		}
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("bench: %s: not a signing key", keyFile)
	}
	return cert, s, nil
}

// OuterTLS is the balancer's share of the outer handshake.
func (f *Floor) OuterTLS() error {
	if err := f.x25519(); err != nil {
		return err
	}
	_, err := ecdsa.SignASN1(rand.Reader, f.lbKey, f.digest)
	return err
}

// InnerTLS is the registrar's share of the (inner) handshake.
func (f *Floor) InnerTLS() error {
	ek, err := mlkem.NewEncapsulationKey768(f.kemKey.EncapsulationKey().Bytes()) // the client's key share
	if err != nil {
		return err
	}
	ek.Encapsulate()
	if err := f.x25519(); err != nil {
		return err
	}
	if _, err := f.regKey.Sign(rand.Reader, f.digest, crypto.SHA256); err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(&f.devKey.PublicKey, f.digest, f.devSig) {
		return errors.New("bench: CertificateVerify")
	}
	return f.idevid.CheckSignatureFrom(f.masaKeys.CACert)
}

// Vouchers is steps 3 to 6: pledge voucher-request, registrar
// voucher-request, the MASA's checks and signature, the registrar's
// check of the voucher.
func (f *Floor) Vouchers() error {
	regPub := f.regChain[0].PublicKey.(*ecdsa.PublicKey)
	if !ecdsa.VerifyASN1(&f.devKey.PublicKey, f.digest, f.devSig) { // registrar: pledge VR
		return errors.New("bench: pledge voucher-request")
	}
	if _, err := f.regKey.Sign(rand.Reader, f.digest, crypto.SHA256); err != nil { // registrar VR
		return err
	}
	if !ecdsa.VerifyASN1(regPub, f.digest, f.regSig) { // MASA: registrar VR
		return errors.New("bench: registrar voucher-request")
	}
	if err := f.regChain[0].CheckSignatureFrom(f.regChain[1]); err != nil { // MASA: registrar chain
		return err
	}
	if err := f.regChain[1].CheckSignatureFrom(f.root); err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(&f.devKey.PublicKey, f.digest, f.devSig) { // MASA: prior-signed pledge VR
		return errors.New("bench: prior-signed voucher-request")
	}
	if err := f.idevid.CheckSignatureFrom(f.masaKeys.CACert); err != nil { // MASA: IDevID
		return err
	}
	if _, err := f.masaKeys.SignerKey.Sign(rand.Reader, f.digest, crypto.SHA256); err != nil { // voucher
		return err
	}
	if !ecdsa.VerifyASN1(f.masaKeys.SignerCert.PublicKey.(*ecdsa.PublicKey), f.digest, f.masaSig) { // registrar: voucher
		return errors.New("bench: voucher")
	}
	return f.masaKeys.SignerCert.CheckSignatureFrom(f.masaKeys.CACert) // registrar: voucher signer
}

// Enroll is step 7: the CSR's signature and the new certificate's.
func (f *Floor) Enroll() error {
	if err := f.csr.CheckSignature(); err != nil {
		return err
	}
	_, err := f.domainKey.Sign(rand.Reader, f.digest, crypto.SHA256)
	return err
}

// Onboarding runs the floor of one onboarding once; outer adds the
// balancer's handshake (the ATLS modes).
func (f *Floor) Onboarding(outer bool) error {
	if outer {
		if err := f.OuterTLS(); err != nil {
			return err
		}
	}
	for _, step := range []func() error{f.InnerTLS, f.Vouchers, f.Enroll} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// Time runs Onboarding n times, single-threaded, and returns the CPU time
// of one run as the wall clock of this goroutine measures it.
func (f *Floor) Time(n int, outer bool) (time.Duration, error) {
	start := time.Now()
	for range n {
		if err := f.Onboarding(outer); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / time.Duration(n), nil
}

func (f *Floor) x25519() error {
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	_, err = k.ECDH(f.peerX)
	return err
}
