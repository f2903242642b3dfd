package migrations

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/landfall-io/landfall/internal/sqldb"
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
	m, err := ForURL(dsn, s)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	return m.Up()
}

// UpSQLite brings the embedded database db to the newest version of s
// and returns that version.
func UpSQLite(db *sqldb.SQLiteDB, s Schema) (uint, error) {
	m, err := ForSQLite(db, s)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	return m.Up()
}

// Down reverts every migration of s on the database at dsn.
func Down(dsn string, s Schema) error {
	m, err := ForURL(dsn, s)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Down()
}

// A Migrator applies one schema to one database, PostgreSQL or the
// embedded SQLite store; `registrar migrate` and `masa migrate` use it.
type Migrator struct {
	m      *migrate.Migrate
	s      Schema
	sqlite bool
}

// ForURL returns a Migrator for s on the PostgreSQL database at dsn (a
// postgres:// URL).
func ForURL(dsn string, s Schema) (*Migrator, error) {
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
	return &Migrator{m: m, s: s}, nil
}

// ForSQLite returns a Migrator for the SQLite form of s (directory
// sqlite/<Dir> of SQLite) on the embedded database db.
func ForSQLite(db *sqldb.SQLiteDB, s Schema) (*Migrator, error) {
	lite, err := sqliteSource(s)
	if err != nil {
		return nil, fmt.Errorf("migrations: sqlite/%s: %w", s.Dir, err)
	}
	src, err := iofs.New(lite, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: sqlite/%s: %w", s.Dir, err)
	}
	drv, err := sqlite.WithInstance(db.SQL(), &sqlite.Config{MigrationsTable: s.Table})
	if err != nil {
		return nil, fmt.Errorf("migrations: sqlite/%s: %w", s.Dir, err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite", drv)
	if err != nil {
		return nil, fmt.Errorf("migrations: sqlite/%s: %w", s.Dir, err)
	}
	return &Migrator{m: m, s: s, sqlite: true}, nil
}

// Up applies every migration not yet applied and returns the version.
func (m *Migrator) Up() (uint, error) {
	if err := m.m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("migrations: %s up: %w", m.s.Dir, err)
	}
	v, _, err := m.Version()
	return v, err
}

// Down reverts every migration.
func (m *Migrator) Down() error {
	if err := m.m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrations: %s down: %w", m.s.Dir, err)
	}
	return nil
}

// DownOne reverts the newest applied migration and returns the version
// left (0: none).
func (m *Migrator) DownOne() (uint, error) {
	if err := m.m.Steps(-1); err != nil {
		return 0, fmt.Errorf("migrations: %s down by one: %w", m.s.Dir, err)
	}
	v, _, err := m.Version()
	return v, err
}

// Version is the applied version (0: none) and whether a migration failed
// half-way (dirty: fix the database by hand, then force the version).
func (m *Migrator) Version() (uint, bool, error) {
	v, dirty, err := m.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("migrations: %s version: %w", m.s.Dir, err)
	}
	return v, dirty, nil
}

// Run performs a `migrate` subcommand's action: "up", "down" (by one) or
// "version" (an error when the schema is dirty), and returns the version
// the schema is left at.
func (m *Migrator) Run(action string) (uint, error) {
	switch action {
	case "up":
		return m.Up()
	case "down":
		return m.DownOne()
	case "version":
		v, dirty, err := m.Version()
		if err == nil && dirty {
			err = fmt.Errorf("migrations: %s schema version %d is dirty: a migration failed half-way; repair it by hand", m.s.Dir, v)
		}
		return v, err
	}
	return 0, fmt.Errorf("migrations: unknown action %q (up, down or version)", action)
}

// Close releases what the Migrator opened. On PostgreSQL that is its own
// connection, which would otherwise hold up closing a pool on the same
// database (DESIGN decision 7); the embedded database belongs to the
// caller and stays open.
func (m *Migrator) Close() error {
	if m.sqlite {
		return nil
	}
	srcErr, dbErr := m.m.Close()
	return errors.Join(srcErr, dbErr)
}
