package migrations

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Schema names one service's migrations: the files and the table that
// records the applied version, so that services can share a database.
type Schema struct {
	FS    fs.FS
	Dir   string
	Table string
}

// RegistrarSchema is the registrar's schema.
var RegistrarSchema = Schema{FS: Registrar, Dir: "registrar", Table: "registrar_schema_migrations"}

// MASASchema is the MASA's schema.
var MASASchema = Schema{FS: MASA, Dir: "masa", Table: "masa_schema_migrations"}

// Up brings the database at dsn (a postgres:// URL) to the newest version
// of s and returns that version.
func Up(dsn string, s Schema) (uint, error) {
	m, err := open(dsn, s)
	if err != nil {
		return 0, err
	}
	// Close releases the driver's connection; without it, closing a pool on
	// the same database waits for it (DESIGN decision 7).
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("migrations: %s up: %w", s.Dir, err)
	}
	v, _, err := m.Version()
	if err != nil {
		return 0, fmt.Errorf("migrations: %s version: %w", s.Dir, err)
	}
	return v, nil
}

// Down reverts every migration of s.
func Down(dsn string, s Schema) error {
	m, err := open(dsn, s)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrations: %s down: %w", s.Dir, err)
	}
	return nil
}

func open(dsn string, s Schema) (*migrate.Migrate, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("migrations: the database URL must be a postgres:// URL")
	}
	u.Scheme = "pgx5"
	q := u.Query()
	q.Set("x-migrations-table", s.Table)
	u.RawQuery = q.Encode()
	src, err := iofs.New(s.FS, s.Dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %s: %w", s.Dir, err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return nil, fmt.Errorf("migrations: %s: %w", s.Dir, err)
	}
	return m, nil
}
