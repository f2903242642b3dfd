package testkit

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smallstep/certificates/authority/config"
	"github.com/smallstep/certificates/authority/provisioner"
	"go.step.sm/crypto/jose"
	"go.step.sm/crypto/pemutil"

	"github.com/landfall-io/landfall/pkg/enroll"
)

// StepCAOptions describes a step-ca as `step ca init` (what the
// smallstep/step-ca image runs for DOCKER_STEPCA_INIT_*) would set it up.
type StepCAOptions struct {
	Name        string   // DOCKER_STEPCA_INIT_NAME: the CA's name, in the root's and intermediate's subjects
	DNSNames    []string // DOCKER_STEPCA_INIT_DNS_NAMES: the names of the CA's TLS certificate
	Provisioner string   // DOCKER_STEPCA_INIT_PROVISIONER_NAME: the JWK provisioner
	Address     string   // where step-ca listens (the image: ":9000")
	// Template is the provisioner's x509 template; empty leaves step-ca's
	// default. Landfall's registrars need enroll.RemoteProvisionerTemplate
	// (docs/deployment.md, step 2).
	Template string
	// MaxTLSDuration is the provisioner's maxTLSCertDuration claim; zero
	// leaves step-ca's default (24 h), as `step ca init` does.
	MaxTLSDuration time.Duration
}

// StepCAHome is a step-ca home directory laid out as the smallstep/step-ca
// image leaves /home/step after its first start: config/ca.json,
// certs/root_ca.crt and certs/intermediate_ca.crt, secrets/root_ca_key and
// secrets/intermediate_ca_key (encrypted with the password), and
// secrets/password, which also decrypts the JWK provisioner's key. Run it
// with `step-ca --password-file <PasswordFile> <Config>`.
type StepCAHome struct {
	Dir, Config, PasswordFile, RootFile string
	Root, Intermediate                  *x509.Certificate
	// Fingerprint is the root's SHA-256 in hex, what `step certificate
	// fingerprint` prints (STEPCA_FINGERPRINT).
	Fingerprint string
	Password    []byte
}

// WriteStepCAHome writes a step-ca home directory into dir: a fresh root
// and intermediate (enroll.NewDomainCA), one JWK provisioner with a key
// encrypted under a fresh password, and no database (Landfall records its
// certificates itself).
func WriteStepCAHome(t testing.TB, dir string, o StepCAOptions) *StepCAHome {
	t.Helper()
	root, rootKey, inter, interKey, err := enroll.NewDomainCA(enroll.DomainCAOptions{Name: o.Name})
	if err != nil {
		t.Fatal(err)
	}
	h := &StepCAHome{
		Dir:          dir,
		Config:       filepath.Join(dir, "config", "ca.json"),
		PasswordFile: filepath.Join(dir, "secrets", "password"),
		RootFile:     filepath.Join(dir, "certs", "root_ca.crt"),
		Root:         root,
		Intermediate: inter,
	}
	var pw [16]byte
	if _, err := rand.Read(pw[:]); err != nil {
		t.Fatal(err)
	}
	h.Password = []byte(hex.EncodeToString(pw[:]))
	sum := sha256.Sum256(root.Raw)
	h.Fingerprint = hex.EncodeToString(sum[:])
	for _, d := range []string{"config", "certs", "secrets"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, b []byte, mode os.FileMode) {
		if err := os.WriteFile(path, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(h.PasswordFile, h.Password, 0o600)
	write(h.RootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o644)
	interFile := filepath.Join(dir, "certs", "intermediate_ca.crt")
	write(interFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Raw}), 0o644)
	keyFiles := map[string]any{"root_ca_key": rootKey, "intermediate_ca_key": interKey}
	for name, key := range keyFiles {
		blk, err := pemutil.Serialize(key, pemutil.WithPassword(h.Password))
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(dir, "secrets", name), pem.EncodeToMemory(blk), 0o600)
	}

	pub, jwe, err := jose.GenerateDefaultKeyPair(h.Password)
	if err != nil {
		t.Fatal(err)
	}
	encKey, err := jwe.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	prov := &provisioner.JWK{Type: "JWK", Name: o.Provisioner, Key: pub, EncryptedKey: encKey}
	if o.MaxTLSDuration > 0 {
		prov.Claims = &provisioner.Claims{MaxTLSDur: &provisioner.Duration{Duration: o.MaxTLSDuration}}
	}
	if o.Template != "" {
		prov.Options = &provisioner.Options{X509: &provisioner.X509Options{Template: o.Template}}
	}
	cfg := &config.Config{
		Root:             []string{h.RootFile},
		IntermediateCert: interFile,
		IntermediateKey:  filepath.Join(dir, "secrets", "intermediate_ca_key"),
		Address:          o.Address,
		DNSNames:         o.DNSNames,
		AuthorityConfig:  &config.AuthConfig{Provisioners: provisioner.List{prov}},
		TLS:              &config.DefaultTLSOptions,
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write(h.Config, b, 0o600)
	return h
}
