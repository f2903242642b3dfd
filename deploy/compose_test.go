// Package deploy_test validates docker-compose.yml statically (no Docker
// engine runs here): services, commands, environment, ports and volumes
// must agree with what the binaries accept.
package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/landfall-io/landfall/internal/sandbox"
)

type compose struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Profiles    []string          `yaml:"profiles"`
	Networks    map[string]struct {
		IPv4Address string `yaml:"ipv4_address"`
	} `yaml:"networks"`
}

// options lists the --flags and environment variables a subcommand's
// --help documents.
func options(t *testing.T, bin string, sub ...string) (flags, env map[string]bool) {
	t.Helper()
	out, _ := exec.Command(bin, append(sub, "--help")...).CombinedOutput()
	flags, env = map[string]bool{}, map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  --([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`LANDFALL_[A-Z0-9_]+`).FindAllString(string(out), -1) {
		env[m] = true
	}
	if len(flags) < 3 {
		t.Fatalf("%s %v --help documents no options:\n%s", bin, sub, out)
	}
	return flags, env
}

func TestComposeMatchesTheBinaries(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, want := range []string{"postgres", "masa", "registrar-a", "registrar-b", "lb", "step-ca"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("service %s missing", want)
		}
	}
	bins := t.TempDir()
	build := exec.Command("go", "build", "-o", bins+"/", "../cmd/masa", "../cmd/registrar")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	publicPorts := map[string]bool{}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src := strings.Split(v, ":")[0]
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("%s mounts %s, which the repository lacks", name, src)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("%s uses volume %s, not declared", name, src)
			}
		}
		if len(s.Command) < 2 || (s.Command[0] != "masa" && s.Command[0] != "registrar") {
			continue
		}
		if s.Build == nil {
			t.Errorf("%s runs a Landfall binary but does not build the image", name)
		}
		flags, env := options(t, filepath.Join(bins, s.Command[0]), s.Command[1])
		for i, arg := range s.Command[2:] {
			if !strings.HasPrefix(arg, "--") {
				continue
			}
			flag := strings.SplitN(strings.TrimPrefix(arg, "--"), "=", 2)[0]
			if !flags[flag] {
				t.Errorf("%s: %s %s has no option --%s", name, s.Command[0], s.Command[1], flag)
			}
			if strings.Contains(flag, "listen") && i+3 < len(s.Command) {
				publicPorts[name+" "+strings.TrimPrefix(s.Command[i+3], ":")] = true
			}
		}
		for k := range s.Environment {
			if strings.HasPrefix(k, "LANDFALL_") && !env[k] {
				t.Errorf("%s: %s %s has no option for %s", name, s.Command[0], s.Command[1], k)
			}
		}
		for _, p := range s.Ports {
			container := strings.TrimSuffix(p[strings.LastIndex(p, ":")+1:], "/udp")
			if !publicPorts[name+" "+container] {
				t.Errorf("%s publishes port %s, on which it does not listen", name, container)
			}
		}
	}
	// Every replica listens where the load balancer sends traffic, over
	// HTTP (nginx.conf) and over UDP (nginx-coap.conf, which nginx.conf
	// includes from where lb mounts it).
	for _, file := range []string{"nginx.conf", "nginx-coap.conf"} {
		ngx, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		servers := regexp.MustCompile(`server ([a-z0-9-]+):(\d+);`).FindAllStringSubmatch(string(ngx), -1)
		if len(servers) != 2 {
			t.Errorf("%s balances over %d servers, not the two replicas", file, len(servers))
		}
		for _, m := range servers {
			if !publicPorts[m[1]+" "+m[2]] {
				t.Errorf("%s balances to %s:%s, where no service listens", file, m[1], m[2])
			}
		}
	}
	lb := c.Services["lb"]
	ngx, _ := os.ReadFile("nginx.conf")
	if !slices.Contains(lb.Volumes, "./deploy/nginx-coap.conf:/etc/nginx/nginx-coap.conf:ro") ||
		!strings.Contains(string(ngx), "include /etc/nginx/nginx-coap.conf;") {
		t.Error("lb does not mount deploy/nginx-coap.conf where deploy/nginx.conf includes it")
	}
	// The balancer keeps a client connection on one replica, as loadgen's
	// sandbox nginx does under --nginx, so that load runs measure this
	// configuration.
	if !strings.Contains(string(ngx), sandbox.AffinityDirective) {
		t.Error("deploy/nginx.conf does not balance by client connection")
	}
	if !slices.Contains(lb.Ports, "5683:5683/udp") {
		t.Error("lb does not publish the UDP balancer's port 5683/udp")
	}
	checkExposure(t, c)
	a, b := c.Services["registrar-a"], c.Services["registrar-b"]
	if !slices.Contains(a.Command, "registrar-a") || !slices.Contains(b.Command, "registrar-b") {
		t.Error("the replicas need distinct --replica-id values")
	}
}

// checkExposure holds the deployment to the security review (items 5 and
// 12): no host port published twice, admin listeners published on the
// host's loopback only, the registrars trusting exactly the load
// balancer's address as proxy, and a rate limit set.
func checkExposure(t *testing.T, c compose) {
	hostPorts := map[string]string{}
	for name, s := range c.Services {
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			host := parts[len(parts)-2]
			if prev, dup := hostPorts[host]; dup {
				t.Errorf("host port %s published by %s and %s", host, prev, name)
			}
			hostPorts[host] = name
			container := parts[len(parts)-1]
			if (container == "9090" || container == "9443") && (len(parts) != 3 || parts[0] != "127.0.0.1") {
				t.Errorf("%s publishes its admin listener %q beyond the host's loopback", name, p)
			}
		}
	}
	lb := c.Services["lb"].Networks["default"].IPv4Address
	if lb == "" {
		t.Fatal("the load balancer has no fixed address for the registrars to trust")
	}
	for _, name := range []string{"registrar-a", "registrar-b"} {
		env := c.Services[name].Environment
		if got := env["LANDFALL_REGISTRAR_TRUSTED_PROXIES"]; got != lb+"/32" {
			t.Errorf("%s trusts proxies %q, want exactly the load balancer %s/32", name, got, lb)
		}
		if env["LANDFALL_REGISTRAR_RATE_LIMIT"] == "" {
			t.Errorf("%s sets no rate limit", name)
		}
	}
}
