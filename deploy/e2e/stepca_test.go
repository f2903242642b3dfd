package e2e_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/landfall-io/landfall/internal/testkit"
	"github.com/landfall-io/landfall/pkg/enroll"
)

// stepCAPort is where the smallstep/step-ca image listens (its
// DOCKER_STEPCA_INIT_ADDRESS default, and the port of the registrars'
// LANDFALL_REGISTRAR_STEPCA_URL).
const stepCAPort = 9000

// stepCAMaxTLSDuration covers the registrar's default --cert-validity
// (8760 h) and the minute it backdates certificates by.
const stepCAMaxTLSDuration = 366 * 24 * time.Hour

// startStepCA writes, into the stepca volume, the home directory the
// smallstep/step-ca image's DOCKER_STEPCA_INIT_* would have written (root
// and intermediate, a JWK provisioner named after
// DOCKER_STEPCA_INIT_PROVISIONER_NAME with an encrypted key, and
// secrets/password), gives the provisioner Landfall's template
// (docs/deployment.md, step 2), runs the built step-ca as the image does
// (step-ca --password-file secrets/password config/ca.json) and sets
// STEPCA_FINGERPRINT as the step-ca-fingerprint service writes it to .env.
func startStepCA(t *testing.T, m *hostMap, dir, bin string) (*proc, *testkit.StepCAHome) {
	t.Helper()
	env := m.compose.Services["step-ca"].Environment
	home := m.volume(volumeAt(t, m, "step-ca", "/home/step"))
	h := testkit.WriteStepCAHome(t, home, testkit.StepCAOptions{
		Name:        env["DOCKER_STEPCA_INIT_NAME"],
		DNSNames:    strings.Split(env["DOCKER_STEPCA_INIT_DNS_NAMES"], ","),
		Provisioner: env["DOCKER_STEPCA_INIT_PROVISIONER_NAME"],
		Address:     m.addr("step-ca", stepCAPort),
		Template:    enroll.RemoteProvisionerTemplate,
		// step ca init leaves the provisioner at step-ca's 24 h maximum,
		// and the registrars ask for --cert-validity, a year by default
		// (compose sets none): step-ca refuses every enrollment. The
		// operator has to raise the maximum with the template (step 2).
		MaxTLSDuration: stepCAMaxTLSDuration,
	})
	m.vars["STEPCA_FINGERPRINT"] = h.Fingerprint
	p := start(t, dir, "step-ca", filepath.Join(bin, "step-ca"), []string{"--password-file", h.PasswordFile, h.Config}, nil)
	waitReady(t, p, fmt.Sprintf("https://localhost:%d/health", m.port("step-ca", stepCAPort)), tlsClient(h.Root))
	return p, h
}

// volumeAt is the named volume service mounts at path.
func volumeAt(t *testing.T, m *hostMap, service, path string) string {
	t.Helper()
	for _, v := range m.compose.Services[service].Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == path {
			return parts[0]
		}
	}
	t.Fatalf("docker-compose.yml: %s mounts nothing at %s", service, path)
	return ""
}
