package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// compose is the part of docker-compose.yml this test runs.
type compose struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Networks    map[string]struct {
		IPv4Address string `yaml:"ipv4_address"`
	} `yaml:"networks"`
}

// readCompose parses the repository's docker-compose.yml and
// deploy/nginx.conf.
func readCompose(t *testing.T) (compose, string) {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"postgres", "masa-init", "masa", "step-ca", "registrar-init", "registrar-a", "registrar-b", "lb"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("docker-compose.yml has no service %s", name)
		}
	}
	ngx, err := os.ReadFile("../nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	return c, string(ngx)
}

// hostMap is what a single machine changes in the compose configuration
// (see TestComposeTopology): service host names, ports, volume paths, the
// load balancer's address and the .env interpolation.
type hostMap struct {
	t       *testing.T
	compose compose
	ports   map[string]int    // "service:container port" -> loopback port
	volumes map[string]string // named volume -> directory
	vars    map[string]string // ${VAR} of .env
	lbAddr  string            // the load balancer's fixed address in compose
}

func newHostMap(t *testing.T, c compose, dir string) *hostMap {
	m := &hostMap{t: t, compose: c, ports: map[string]int{}, volumes: map[string]string{}, vars: map[string]string{}}
	m.lbAddr = c.Services["lb"].Networks["default"].IPv4Address
	if m.lbAddr == "" {
		t.Fatal("docker-compose.yml: the load balancer has no fixed address")
	}
	for _, s := range c.Services {
		for _, v := range s.Volumes {
			name := strings.Split(v, ":")[0]
			if strings.HasPrefix(name, ".") {
				continue // bind mounts: the repository's own files
			}
			if _, ok := m.volumes[name]; !ok {
				m.volumes[name] = filepath.Join(dir, "volumes", name)
				if err := os.MkdirAll(m.volumes[name], 0o700); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return m
}

// port is the loopback port standing in for service's container port,
// chosen free on first use.
func (m *hostMap) port(service string, container int) int {
	key := fmt.Sprintf("%s:%d", service, container)
	if p, ok := m.ports[key]; ok {
		return p
	}
	p := freePort(m.t)
	m.ports[key] = p
	return p
}

// addr is 127.0.0.1:port(service, container).
func (m *hostMap) addr(service string, container int) string {
	return fmt.Sprintf("127.0.0.1:%d", m.port(service, container))
}

// volume is the directory of a named volume.
func (m *hostMap) volume(name string) string {
	d, ok := m.volumes[name]
	if !ok {
		m.t.Fatalf("docker-compose.yml declares no volume %s", name)
	}
	return d
}

var (
	// scheme://[user@]service:port inside a URL.
	urlHost = regexp.MustCompile(`(://(?:[^@/]*@)?)([a-z][a-z0-9-]*):(\d+)`)
	// a listen address of all interfaces.
	anyAddr = regexp.MustCompile(`^:(\d+)$`)
	envVar  = regexp.MustCompile(`\$\{([A-Z_]+)\}`)
)

// value maps one argument or environment value of service.
func (m *hostMap) value(service, flag, v string) string {
	// Listen addresses ":N" of all interfaces: loopback and a free port.
	if mm := anyAddr.FindStringSubmatch(v); mm != nil && strings.Contains(flag, "listen") {
		n, _ := strconv.Atoi(mm[1])
		return m.addr(service, n)
	}
	// Service host names in URLs: PostgreSQL by address, the TLS services
	// by the name "localhost", which every certificate compose creates
	// names (masa init --hosts, registrar init --dns-names, step-ca's
	// DNS names), at the port standing in for the container's.
	v = urlHost.ReplaceAllStringFunc(v, func(s string) string {
		mm := urlHost.FindStringSubmatch(s)
		if _, ok := m.compose.Services[mm[2]]; !ok {
			return s
		}
		n, _ := strconv.Atoi(mm[3])
		host := "localhost"
		if mm[2] == "postgres" {
			host = "127.0.0.1"
		}
		return fmt.Sprintf("%s%s:%d", mm[1], host, m.port(mm[2], n))
	})
	// Volume paths: the container path of each named volume the service
	// mounts becomes that volume's directory.
	for _, vol := range m.compose.Services[service].Volumes {
		parts := strings.Split(vol, ":")
		if len(parts) < 2 || strings.HasPrefix(parts[0], ".") {
			continue
		}
		if v == parts[1] || strings.HasPrefix(v, parts[1]+"/") {
			v = m.volume(parts[0]) + strings.TrimPrefix(v, parts[1])
		}
	}
	// The load balancer reaches the replicas from 127.0.0.1 here.
	v = strings.ReplaceAll(v, m.lbAddr+"/32", "127.0.0.1/32")
	// .env interpolation.
	return envVar.ReplaceAllStringFunc(v, func(s string) string {
		name := envVar.FindStringSubmatch(s)[1]
		val, ok := m.vars[name]
		if !ok {
			m.t.Fatalf("docker-compose.yml uses ${%s}, which this test does not provide", name)
		}
		return val
	})
}

// command is service's command line, mapped.
func (m *hostMap) command(service string) []string {
	cmd := m.compose.Services[service].Command
	if len(cmd) == 0 {
		m.t.Fatalf("docker-compose.yml: %s has no command", service)
	}
	out := []string{cmd[0]}
	for i, a := range cmd[1:] {
		flag := ""
		if i > 0 {
			flag = cmd[i]
		}
		out = append(out, m.value(service, flag, a))
	}
	return out
}

// env is service's environment, mapped, as KEY=value pairs.
func (m *hostMap) env(service string) []string {
	var out []string
	for k, v := range m.compose.Services[service].Environment {
		out = append(out, k+"="+m.value(service, k, v))
	}
	return out
}

// envValue is one variable of service's mapped environment.
func (m *hostMap) envValue(service, key string) string {
	v, ok := m.compose.Services[service].Environment[key]
	if !ok {
		m.t.Fatalf("docker-compose.yml: %s sets no %s", service, key)
	}
	return m.value(service, key, v)
}

// flagValue is the mapped value following flag in service's command.
func (m *hostMap) flagValue(service, flag string) string {
	cmd := m.command(service)
	for i := range len(cmd) - 1 {
		if cmd[i] == flag {
			return cmd[i+1]
		}
	}
	m.t.Fatalf("docker-compose.yml: %s has no %s", service, flag)
	return ""
}

// containerPort is the port of the listen address after flag in
// service's command as compose has it (":8080" -> 8080).
func (m *hostMap) containerPort(service, flag string) int {
	cmd := m.compose.Services[service].Command
	for i := range len(cmd) - 1 {
		if cmd[i] == flag {
			n, err := strconv.Atoi(strings.TrimPrefix(cmd[i+1], ":"))
			if err != nil {
				m.t.Fatalf("%s %s %s: %v", service, flag, cmd[i+1], err)
			}
			return n
		}
	}
	m.t.Fatalf("docker-compose.yml: %s has no %s", service, flag)
	return 0
}
