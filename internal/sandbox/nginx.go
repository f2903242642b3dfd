package sandbox

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Nginx is a real nginx terminating TLS in front of the replicas' public
// listeners, balancing round-robin without stickiness (or, with
// NginxOptions.ConnectionAffinity, each client connection to one replica),
// as a deployment's load balancer would.
type Nginx struct {
	URL string
	// CoAP is the UDP address of the CoAP balancer (NginxOptions.CoAP),
	// invalid without one.
	CoAP netip.AddrPort
	Cert *x509.Certificate // its TLS certificate, for clients to trust
	cmd  *exec.Cmd
	done chan error
	dir  string
}

// nginxBinary finds nginx, which Debian installs in /usr/sbin.
func nginxBinary() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("sandbox: nginx not found (apt-get install nginx, or run scripts/deps.sh)")
}

// StartNginx writes an nginx configuration for upstreams into a fresh
// directory and runs nginx in the foreground until Stop.
func StartNginx(ctx context.Context, upstreams []*url.URL) (*Nginx, error) {
	return StartNginxWith(ctx, NginxOptions{HTTP: upstreams})
}

// NginxOptions are the upstreams of StartNginxWith.
type NginxOptions struct {
	HTTP []*url.URL // the replicas' public listeners
	// CoAP are the replicas' CoAP listeners (UDP), balanced by nginx's
	// stream module when not empty.
	CoAP []netip.AddrPort
	// ConnectionAffinity sends every request of one client connection to
	// the same replica (hash of the client's address and port), as
	// deploy/nginx.conf does; without it requests are balanced
	// round-robin, which proves that no stickiness is needed.
	ConnectionAffinity bool
}

// StartNginxWith is StartNginx with a UDP balancer for CoAP as well.
func StartNginxWith(ctx context.Context, o NginxOptions) (*Nginx, error) {
	upstreams := o.HTTP
	bin, err := nginxBinary()
	if err != nil {
		return nil, err
	}
	var stream string
	var coapPort int
	if len(o.CoAP) > 0 {
		mod, err := streamModule()
		if err != nil {
			return nil, err
		}
		if coapPort, err = freeUDPPort(); err != nil {
			return nil, err
		}
		stream = streamConfig(mod, coapPort, o.CoAP)
	}
	dir, err := os.MkdirTemp("", "landfall-nginx-")
	if err != nil {
		return nil, err
	}
	n := &Nginx{dir: dir, done: make(chan error, 1)}
	cert, err := writeSelfSigned(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	n.Cert = cert
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(stream+nginxConfig(dir, port, upstreams, o.ConnectionAffinity)), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	n.cmd = exec.CommandContext(ctx, bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	n.cmd.Stdout, n.cmd.Stderr = os.Stderr, os.Stderr
	// nginx's workers are children of its master: run them in a process
	// group of their own and signal the group, or a master killed alone
	// (ctx cancelled, Stop timing out) leaves its workers listening.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	n.cmd.Cancel = func() error { return syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL) }
	if err := n.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sandbox: starting nginx: %w", err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	n.URL = "https://" + addr
	if coapPort != 0 {
		n.CoAP = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(coapPort))
	}
	if err := n.waitListening(addr); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

// waitListening waits until nginx accepts connections, or has exited.
func (n *Nginx) waitListening(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-n.done:
			log, _ := os.ReadFile(filepath.Join(n.dir, "error.log"))
			return fmt.Errorf("sandbox: nginx exited: %v\n%s", err, log)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond) // polling a process we do not control
	}
	return errors.New("sandbox: nginx did not start listening")
}

// Client is an HTTP client that trusts nginx's certificate.
func (n *Nginx) Client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(n.Cert)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
}

// Stop ends nginx, master and workers, and removes its files. It returns
// once no process of nginx's group is left.
func (n *Nginx) Stop() {
	if n.cmd != nil && n.cmd.Process != nil {
		pgid := n.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM) // fast shutdown of the master and its workers
		exited := false
		select {
		case <-n.done:
			exited = true
		case <-time.After(10 * time.Second):
		}
		// Whatever outlived the master (or a master that did not stop)
		// goes now; the group is empty once Kill reports ESRCH.
		syscall.Kill(-pgid, syscall.SIGKILL)
		for deadline := time.Now().Add(10 * time.Second); groupRunning(pgid) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // polling the kernel for exited processes
		}
		if !exited {
			<-n.done // the master was SIGKILLed above
		}
		n.cmd = nil
	}
	os.RemoveAll(n.dir)
}

// groupRunning reports whether a process of group pgid still runs (a
// zombie, waiting for a parent that may never reap it, does not count).
func groupRunning(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) >= 3 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}

// ProcessGroup is the id of nginx's process group (master and workers),
// 0 once stopped.
func (n *Nginx) ProcessGroup() int {
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// AffinityDirective is the upstream directive of NginxOptions.ConnectionAffinity,
// the one deploy/nginx.conf carries (deploy's compose test checks it).
const AffinityDirective = "hash $remote_addr$remote_port consistent;"

func nginxConfig(dir string, port int, upstreams []*url.URL, affinity bool) string {
	var servers strings.Builder
	if affinity {
		servers.WriteString("        " + AffinityDirective + "\n")
	}
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "        server %s;\n", u.Host)
	}
	return fmt.Sprintf(`# Generated by internal/sandbox: TLS termination and balancing (round-robin,
# or by client connection) in front of the registrar replicas.
daemon off;
master_process on;
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    client_max_body_size 128k;
    upstream registrars {
%[2]s        keepalive 32;
    }
    server {
        listen 127.0.0.1:%[3]d ssl;
        ssl_certificate %[1]s/lb.crt;
        ssl_certificate_key %[1]s/lb.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://registrars;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_read_timeout 90s;
        }
    }
}
`, dir, servers.String(), port)
}

// writeSelfSigned makes the load balancer's certificate for 127.0.0.1.
func writeSelfSigned(dir string) (*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "landfall load balancer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "lb.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "lb.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
