// Package pgcluster runs a private PostgreSQL cluster: Debian's initdb and
// pg_ctl (found through pg_config --bindir) in a temporary directory on a
// free loopback port, as the postgres user when the caller is root
// (PostgreSQL refuses to run as root). The test harness (internal/testpg)
// and the demo (cmd/demo) use it; it is no production database.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL cluster this process initialised and controls.
type Cluster struct {
	dir    string // data directory's parent; removed by Destroy
	data   string
	socket string
	port   int
	bindir string
	runAs  *user.User // nil when the current user runs the server
}

// NewCluster initialises a cluster in a fresh temporary directory and starts
// it on a free loopback port. The caller must call Destroy.
func NewCluster(ctx context.Context) (*Cluster, error) {
	bindir, err := binDir(ctx)
	if err != nil {
		return nil, err
	}
	c := &Cluster{bindir: bindir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgcluster: running as root needs a postgres user to run the server: %w", err)
		}
		c.runAs = u
	}
	if c.dir, err = os.MkdirTemp("", "landfall-pg-"); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c.data = filepath.Join(c.dir, "data")
	c.socket = filepath.Join(c.dir, "sock")
	if err := c.prepareDirs(); err != nil {
		c.Destroy()
		return nil, err
	}
	if err := c.run(ctx, "initdb", "-D", c.data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--no-sync", "--no-instructions"); err != nil {
		c.Destroy()
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		c.Destroy()
		return nil, err
	}
	return c, nil
}

// prepareDirs creates the data and socket directories, owned by the server's
// user, inside a parent that user can traverse.
func (c *Cluster) prepareDirs() error {
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, d := range []string{c.data, c.socket} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if c.runAs != nil {
			uid, _ := strconv.Atoi(c.runAs.Uid)
			gid, _ := strconv.Atoi(c.runAs.Gid)
			if err := os.Chown(d, uid, gid); err != nil {
				return fmt.Errorf("pgcluster: %w", err)
			}
		}
	}
	return nil
}

// Start starts the server (again, after Stop) on the cluster's port. A fresh
// free port is chosen on the first start and kept afterwards, so that DSNs
// handed out stay valid across a restart.
func (c *Cluster) Start(ctx context.Context) error {
	if c.port == 0 {
		p, err := freePort()
		if err != nil {
			return err
		}
		c.port = p
	}
	opts := strings.Join([]string{
		"-c listen_addresses=127.0.0.1",
		"-p " + strconv.Itoa(c.port),
		"-c unix_socket_directories=" + c.socket,
		"-c fsync=off", // the OS does not crash in tests; a killed server loses nothing
		"-c full_page_writes=off",
		"-c max_connections=300",
		"-c shared_buffers=64MB",
	}, " ")
	if c.hasStatStatements() {
		// Statement counts for load runs (cmd/loadgen); a database sees
		// them once it runs CREATE EXTENSION pg_stat_statements.
		opts += " -c shared_preload_libraries=pg_stat_statements"
	}
	return c.run(ctx, "pg_ctl", "-D", c.data, "-o", opts, "-l", filepath.Join(c.data, "server.log"), "-w", "-t", "60", "start")
}

// hasStatStatements reports whether the server's installation ships the
// pg_stat_statements module (Debian's postgresql package does), which
// Start then preloads.
func (c *Cluster) hasStatStatements() bool {
	_, err := os.Stat(filepath.Join(filepath.Dir(c.bindir), "lib", "pg_stat_statements.so"))
	return err == nil
}

// Stop stops the server immediately, as a crash would, keeping its data.
func (c *Cluster) Stop(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
}

// Destroy stops the server if it runs and removes every file of the cluster.
func (c *Cluster) Destroy() {
	if c.data != "" {
		if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = c.Stop(ctx)
			cancel()
		}
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// URL returns the connection URL of database name on this cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// run runs one of PostgreSQL's programs, as the postgres user when needed.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) error {
	path := filepath.Join(c.bindir, prog)
	var cmd *exec.Cmd
	if c.runAs != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.dir
	// pg_ctl's server inherits the environment; keep locale neutral.
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: %s %s: %w\n%s%s", prog, strings.Join(args, " "), err, out, c.serverLog())
	}
	return nil
}

func (c *Cluster) serverLog() string {
	b, err := os.ReadFile(filepath.Join(c.data, "server.log"))
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "server log:\n" + string(b)
}

// binDir finds the PostgreSQL server programs.
func binDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "pg_config", "--bindir").Output()
	if err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	// Debian's client package ships pg_config pointing at a bindir without
	// server programs; look at the versioned server directories too.
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", errors.New("pgcluster: PostgreSQL server programs (initdb, pg_ctl) not found; install them (Debian: apt-get install postgresql)")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CreateDatabase creates an empty database and returns its URL.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgcluster: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgcluster: create database %s: %w", name, err)
	}
	return c.URL(name), nil
}
