package e2e_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/landfall-io/landfall/internal/testkit"
)

// lbPort is the port deploy/nginx.conf listens on (compose publishes it
// as 443:443).
const lbPort = 443

// startNginx runs nginx with deploy/nginx.conf, changed only where one
// machine forces it (see TestComposeTopology): the upstream servers
// "server registrar-x:8080;" point at the replicas' loopback ports, the
// listener is 127.0.0.1 on a free port instead of 443, the certificate
// paths of the ./deploy/tls mount are a temporary directory holding a
// fresh CA-issued certificate for localhost and 127.0.0.1, and the file
// locations nginx:1.27 has built in (pid, logs, temporary files) are in
// that directory too. It returns the URL and the CA certificate.
func startNginx(t *testing.T, m *hostMap, conf, dir string) (*proc, string, *x509.Certificate) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("nginx not found: run scripts/deps.sh (apt-get install nginx)")
		}
	}
	ngx := filepath.Join(dir, "nginx")
	tlsDir := filepath.Join(ngx, "tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ca, caKey := testkit.CA(t, "load balancer test CA")
	leaf, key := testkit.Issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	// The ./deploy/tls:/etc/nginx/tls mount.
	mountDir := ""
	for _, v := range m.compose.Services["lb"].Volumes {
		parts := strings.Split(v, ":")
		if parts[0] == "./deploy/tls" {
			mountDir = parts[1]
		}
	}
	if mountDir == "" {
		t.Fatal("docker-compose.yml: lb mounts no ./deploy/tls")
	}
	certFile := filepath.Join(tlsDir, "lb.crt")
	testkit.WritePEM(t, certFile, "CERTIFICATE", leaf.Raw)
	testkit.WritePEM(t, filepath.Join(tlsDir, "lb.key"), "PRIVATE KEY", keyDER)

	upstream := regexp.MustCompile(`(?m)^(\s*server\s+)([a-z0-9-]+):(\d+);`)
	n := 0
	conf = upstream.ReplaceAllStringFunc(conf, func(s string) string {
		mm := upstream.FindStringSubmatch(s)
		n++
		var port int
		fmt.Sscan(mm[3], &port)
		return mm[1] + m.addr(mm[2], port) + ";"
	})
	if n != 2 {
		t.Fatalf("deploy/nginx.conf: %d upstream servers, want the two replicas", n)
	}
	listen := regexp.MustCompile(fmt.Sprintf(`(?m)^(\s*listen\s+)%d(\s+ssl;)`, lbPort))
	if !listen.MatchString(conf) {
		t.Fatalf("deploy/nginx.conf does not listen on %d ssl", lbPort)
	}
	conf = listen.ReplaceAllString(conf, "${1}"+m.addr("lb", lbPort)+"${2}")
	conf = strings.ReplaceAll(conf, mountDir+"/", tlsDir+"/")
	conf = strings.Replace(conf, "http {", fmt.Sprintf(`http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;`, ngx), 1)
	confFile := filepath.Join(ngx, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	global := fmt.Sprintf("daemon off; user root; pid %s/nginx.pid;", ngx)
	p := start(t, dir, "lb", bin, []string{"-p", ngx, "-c", confFile, "-e", filepath.Join(ngx, "error.log"), "-g", global}, nil)
	waitListening(t, p, m.addr("lb", lbPort))
	return p, "https://" + m.addr("lb", lbPort), ca
}
