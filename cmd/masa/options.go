package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
)

// common is what every subcommand takes: the database, the key directory
// and the log. Each option is a flag, the environment variable
// LANDFALL_MASA_<NAME> and a key of the --config YAML file (internal/cli).
type common struct {
	databaseURL string
	dbMaxConns  int
	keyDir      string
	masaURL     string
	logLevel    string
}

// newFlagSet is a subcommand's flag set with the common options, whose
// --help lists every option with its environment variable.
func newFlagSet(name, synopsis string, stdout io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = cli.Usage(stdout, fs, envPrefix, synopsis)
	c := &common{}
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL URL, postgres://user:pass@host:5432/db (required)")
	fs.IntVar(&c.dbMaxConns, "db-max-conns", 16, "maximum PostgreSQL connections in the pool")
	fs.StringVar(&c.keyDir, "key-dir", "/var/lib/landfall-masa/keys", "directory of the IDevID CA, voucher-signing and TLS keys (written by init)")
	fs.StringVar(&c.masaURL, "masa-url", "", "MASA URL written into issued IDevIDs (RFC 8995 2.3.2), e.g. masa.example.com")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return fs, c
}

// parse fills fs from args, then the environment through getenv, then the
// --config YAML file (internal/cli, as for the registrar).
func parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	return cli.Parse(fs, args, envPrefix, getenv)
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func (c *common) requireDatabase() error {
	if c.databaseURL == "" {
		return errors.New("--database-url (" + cli.EnvName(envPrefix, "database-url") + ") is required")
	}
	return nil
}

// open connects the store and loads the keys, for serve and the one-shot
// commands.
func (c *common) open(ctx context.Context) (*sqlstore.Store, *masa.Keys, error) {
	if err := c.requireDatabase(); err != nil {
		return nil, nil, err
	}
	keys, err := masa.LoadKeys(c.keyDir)
	if err != nil {
		return nil, nil, fmt.Errorf("keys (run masa init?): %w", err)
	}
	store, err := sqlstore.Open(ctx, c.databaseURL, int32(c.dbMaxConns))
	if err != nil {
		return nil, nil, err
	}
	return store, keys, nil
}

// openService builds the MASA with its production defaults for the
// one-shot commands, logging to stderr.
func (c *common) openService(ctx context.Context, stderr io.Writer) (*masa.Service, *sqlstore.Store, error) {
	log, err := newLogger(stderr, c.logLevel)
	if err != nil {
		return nil, nil, err
	}
	store, keys, err := c.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	cfg := masa.ConfigFromKeys(store, keys, c.masaURL)
	cfg.Logger = log
	svc, err := masa.New(cfg)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return svc, store, nil
}
