package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/masa"
	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/migrations"
)

// embeddedFile is the embedded store's file in the key directory.
const embeddedFile = "masa.db"

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
	fs.StringVar(&c.databaseURL, "database-url", "", "PostgreSQL URL, postgres://user:pass@host:5432/db, shared by every MASA process; empty: one MASA on the embedded SQLite store <key-dir>/"+embeddedFile)
	fs.IntVar(&c.dbMaxConns, "db-max-conns", 16, "maximum PostgreSQL connections in the pool")
	fs.StringVar(&c.keyDir, "key-dir", "/var/lib/landfall-masa/keys", "directory of the IDevID CA, voucher-signing and TLS keys (written by init), and of the embedded store without --database-url")
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

// embeddedPath is the embedded store's file.
func (c *common) embeddedPath() string { return filepath.Join(c.keyDir, embeddedFile) }

// storeName is the store as the log names it: "postgresql" or
// "sqlite <path>".
func (c *common) storeName() string {
	if c.databaseURL != "" {
		return sqldb.PostgreSQL.String()
	}
	return sqldb.SQLite.String() + " " + c.embeddedPath()
}

// inUse explains a refused embedded store: one process holds it.
func inUse(err error) error {
	var iu *sqldb.InUseError
	if errors.As(err, &iu) {
		return fmt.Errorf("%w; stop it first, or run every MASA process on one --database-url (PostgreSQL)", err)
	}
	return err
}

// openServing opens the store `masa serve` runs on: PostgreSQL at
// --database-url, migrated first with migrate, or the embedded file in
// the key directory, which this process then holds alone and which is
// always brought to this binary's schema.
func (c *common) openServing(ctx context.Context, migrate bool, log *slog.Logger) (*sqlstore.Store, error) {
	if c.databaseURL == "" {
		store, v, err := sqlstore.OpenEmbedded(ctx, c.embeddedPath())
		if err != nil {
			return nil, inUse(err)
		}
		log.Info("database schema", "version", v, "store", c.storeName())
		return store, nil
	}
	if migrate {
		v, err := migrations.Up(c.databaseURL, migrations.MASASchema)
		if err != nil {
			return nil, err
		}
		log.Info("database schema", "version", v, "store", c.storeName())
	}
	return sqlstore.Open(ctx, c.databaseURL, int32(c.dbMaxConns))
}

// openTool opens the store for a one-shot command. The embedded store is
// opened as serve opens it (held, brought to this binary's schema) when no
// `masa serve` holds it, and otherwise beside the running server, which
// migrated it (no process lock; SQLite serialises the writes of both).
func (c *common) openTool(ctx context.Context) (*sqlstore.Store, error) {
	if c.databaseURL != "" {
		return sqlstore.Open(ctx, c.databaseURL, int32(c.dbMaxConns))
	}
	store, _, err := sqlstore.OpenEmbedded(ctx, c.embeddedPath())
	var iu *sqldb.InUseError
	if errors.As(err, &iu) {
		return sqlstore.OpenEmbeddedShared(ctx, c.embeddedPath())
	}
	return store, err
}

// openMigrator opens the schema of either store. The embedded one is
// locked as a serving MASA holds it, so that nothing runs on it meanwhile.
func (c *common) openMigrator(ctx context.Context) (*migrations.Migrator, func(), error) {
	if c.databaseURL != "" {
		m, err := migrations.ForURL(c.databaseURL, migrations.MASASchema)
		if err != nil {
			return nil, nil, err
		}
		return m, func() { m.Close() }, nil
	}
	db, err := sqldb.OpenSQLite(ctx, c.embeddedPath())
	if err != nil {
		return nil, nil, inUse(err)
	}
	m, err := migrations.ForSQLite(db, migrations.MASASchema)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return m, func() { m.Close(); db.Close() }, nil
}

// loadKeys loads the key directory.
func (c *common) loadKeys() (*masa.Keys, error) {
	keys, err := masa.LoadKeys(c.keyDir)
	if err != nil {
		return nil, fmt.Errorf("keys (run masa init?): %w", err)
	}
	return keys, nil
}

// openService builds the MASA with its production defaults for the
// one-shot commands, logging to stderr.
func (c *common) openService(ctx context.Context, stderr io.Writer) (*masa.Service, *sqlstore.Store, error) {
	log, err := newLogger(stderr, c.logLevel)
	if err != nil {
		return nil, nil, err
	}
	keys, err := c.loadKeys()
	if err != nil {
		return nil, nil, err
	}
	store, err := c.openTool(ctx)
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
