package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/cli"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/migrations"
)

// embeddedFile is the embedded store's file in the state directory.
const embeddedFile = registrar.EmbeddedFile

// storeFlags are the options that name the store, as serve has them: a
// PostgreSQL URL, or the state directory holding the embedded store.
func storeFlags(fs *flag.FlagSet) (dsn, stateDir *string) {
	dsn = fs.String("database-url", "", "PostgreSQL URL, postgres://...; empty: the embedded store in --state-dir")
	stateDir = fs.String("state-dir", "/var/lib/landfall/registrar", "directory written by `registrar init`, holding the embedded store")
	return dsn, stateDir
}

// openOperatorStore opens the store for an operator command. The embedded
// store is opened beside a running registrar (no process lock): SQLite
// serialises the writes of both.
func openOperatorStore(ctx context.Context, dsn, stateDir string) (sqldb.DB, func(), error) {
	if dsn == "" {
		db, err := sqldb.OpenSQLiteShared(ctx, filepath.Join(stateDir, embeddedFile))
		if err != nil {
			return nil, nil, fmt.Errorf("%w (run `registrar serve` once to create the embedded store, or give --database-url)", err)
		}
		return db, func() { db.Close() }, nil
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	return pool, pool.Close, nil
}

// openMigrator opens the schema of either store; the embedded one is
// locked like a serving registrar, so that nothing runs on it meanwhile.
func openMigrator(ctx context.Context, dsn, stateDir string) (*migrations.Migrator, func(), error) {
	if dsn != "" {
		m, err := migrations.ForURL(dsn, migrations.RegistrarSchema)
		if err != nil {
			return nil, nil, err
		}
		return m, func() { m.Close() }, nil
	}
	db, _, err := registrar.OpenEmbedded(ctx, stateDir, false)
	if err != nil {
		return nil, nil, err
	}
	m, err := migrations.ForSQLite(db, migrations.RegistrarSchema)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return m, func() { m.Close(); db.Close() }, nil
}

// backup writes a consistent copy of the embedded store while the
// registrar runs; PostgreSQL is backed up with its own tools.
func backup(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := newFlagSet("backup", "usage: registrar backup --out FILE [options]\n\n"+
		"Copies the embedded store to FILE (a new file) while the registrar runs: a complete\n"+
		"database to put in place of "+embeddedFile+" with the registrar stopped. Back up the\n"+
		"state directory's keys as well. On PostgreSQL use pg_dump (docs/deployment.md).", stdout)
	dsn, stateDir := storeFlags(fs)
	out := fs.String("out", "", "the backup file to write (required; must not exist)")
	if err := cli.Parse(fs, args, envPrefix, getenv); err != nil {
		return err
	}
	if *dsn != "" {
		return errors.New("registrar backup copies the embedded store; back up PostgreSQL with pg_dump (docs/deployment.md)")
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	db, err := sqldb.OpenSQLiteShared(ctx, filepath.Join(*stateDir, embeddedFile))
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.BackupTo(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registrar store copied to %s\n", *out)
	return nil
}
