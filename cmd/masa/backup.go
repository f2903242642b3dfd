package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/landfall-io/landfall/internal/sqldb"
)

// backup writes a consistent copy of the embedded store while the MASA
// runs; PostgreSQL is backed up with its own tools.
func backup(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs, c := newFlagSet("backup", "usage: masa backup --out FILE [options]\n\n"+
		"Copies the embedded store <key-dir>/"+embeddedFile+" to FILE (a new file) while the MASA runs:\n"+
		"a complete database to put in its place with the MASA stopped. Back up the key directory's\n"+
		"keys as well. On PostgreSQL use pg_dump (docs/deployment.md).", stdout)
	out := fs.String("out", "", "the backup file to write (required; must not exist)")
	if err := parse(fs, args, getenv); err != nil {
		return err
	}
	if c.databaseURL != "" {
		return errors.New("masa backup copies the embedded store; back up PostgreSQL with pg_dump (docs/deployment.md)")
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	db, err := sqldb.OpenSQLiteShared(ctx, c.embeddedPath())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.BackupTo(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "MASA store copied to %s\n", *out)
	return nil
}
