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
// that directory too. deploy/nginx-coap.conf, which it includes, is
// changed the same way (includeCoAP). It returns the HTTPS URL, the UDP
// balancer's coap:// URL and the CA certificate.
func startNginx(t *testing.T, m *hostMap, conf, dir string) (*proc, string, string, *x509.Certificate) {
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

	conf = pointUpstreams(t, m, conf, "deploy/nginx.conf")
	listen := regexp.MustCompile(fmt.Sprintf(`(?m)^(\s*listen\s+)%d(\s+ssl;)`, lbPort))
	if !listen.MatchString(conf) {
		t.Fatalf("deploy/nginx.conf does not listen on %d ssl", lbPort)
	}
	conf = listen.ReplaceAllString(conf, "${1}"+m.addr("lb", lbPort)+"${2}")
	conf = strings.ReplaceAll(conf, mountDir+"/", tlsDir+"/")
	conf, coapAddr := includeCoAP(t, m, conf, ngx)
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
	return p, "https://" + m.addr("lb", lbPort), "coap://" + coapAddr, ca
}

// upstreamServer is an upstream line "server registrar-x:port;".
var upstreamServer = regexp.MustCompile(`(?m)^(\s*server\s+)([a-z0-9-]+):(\d+);`)

// pointUpstreams points the upstream servers of an nginx configuration
// (file names it in errors) at the replicas' loopback ports.
func pointUpstreams(t *testing.T, m *hostMap, conf, file string) string {
	t.Helper()
	n := 0
	conf = upstreamServer.ReplaceAllStringFunc(conf, func(s string) string {
		mm := upstreamServer.FindStringSubmatch(s)
		n++
		var port int
		fmt.Sscan(mm[3], &port)
		return mm[1] + m.addr(mm[2], port) + ";"
	})
	if n != 2 {
		t.Fatalf("%s: %d upstream servers, want the two replicas", file, n)
	}
	return conf
}

// lbCoAPPort is the UDP port deploy/nginx-coap.conf listens on (compose
// publishes it as 5683:5683/udp).
const lbCoAPPort = 5683

// includeCoAP replaces deploy/nginx.conf's include of the UDP balancer,
// mounted from deploy/nginx-coap.conf, by a copy of that file changed as
// startNginx changes nginx.conf: upstreams at the replicas' CoAP loopback
// ports, the listener on 127.0.0.1 and a free port. Debian's nginx loads
// its stream module first (libnginx-mod-stream), which the nginx image
// has built in. It returns the configuration and the balancer's address.
func includeCoAP(t *testing.T, m *hostMap, conf, ngx string) (string, string) {
	t.Helper()
	mount := ""
	for _, v := range m.compose.Services["lb"].Volumes {
		if parts := strings.Split(v, ":"); parts[0] == "./deploy/nginx-coap.conf" {
			mount = parts[1]
		}
	}
	if mount == "" {
		t.Fatal("docker-compose.yml: lb mounts no ./deploy/nginx-coap.conf")
	}
	include := "include " + mount + ";"
	if !strings.Contains(conf, include) {
		t.Fatalf("deploy/nginx.conf has no %q", include)
	}
	raw, err := os.ReadFile("../nginx-coap.conf")
	if err != nil {
		t.Fatal(err)
	}
	coap := pointUpstreams(t, m, string(raw), "deploy/nginx-coap.conf")
	listen := regexp.MustCompile(fmt.Sprintf(`(?m)^(\s*listen\s+)%d(\s+udp;)`, lbCoAPPort))
	if !listen.MatchString(coap) {
		t.Fatalf("deploy/nginx-coap.conf does not listen on %d udp", lbCoAPPort)
	}
	addr := m.addr("lb", lbCoAPPort)
	coap = listen.ReplaceAllString(coap, "${1}"+addr+"${2}")
	file := filepath.Join(ngx, "nginx-coap.conf")
	if err := os.WriteFile(file, []byte(coap), 0o644); err != nil {
		t.Fatal(err)
	}
	conf = strings.Replace(conf, include, "include "+file+";", 1)
	for _, module := range []string{"/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/share/nginx/modules/ngx_stream_module.so"} {
		if _, err := os.Stat(module); err == nil {
			return "load_module " + module + ";\n" + conf, addr
		}
	}
	t.Fatal("nginx's stream module is missing: run scripts/deps.sh (apt-get install libnginx-mod-stream)")
	return "", ""
}
