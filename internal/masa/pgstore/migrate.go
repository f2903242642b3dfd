package pgstore

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/landfall-io/landfall/migrations"
)

// migrationsTable keeps the MASA's schema version apart from other services
// that may share the database.
const migrationsTable = "masa_schema_migrations"

// Migrate brings the database at dsn (a postgres:// URL) to the newest
// schema version. It returns the version it ended at.
func Migrate(dsn string) (uint, error) {
	m, err := newMigrate(dsn)
	if err != nil {
		return 0, err
	}
	// Close releases the driver's connection; without it closing a pool on
	// the same database waits for it.
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return 0, fmt.Errorf("pgstore: migrate up: %w", err)
	}
	v, _, err := m.Version()
	if err != nil {
		return 0, fmt.Errorf("pgstore: migrate version: %w", err)
	}
	return v, nil
}

// MigrateDown reverts every migration (for `masa migrate --down` and tests).
func MigrateDown(dsn string) error {
	m, err := newMigrate(dsn)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("pgstore: migrate down: %w", err)
	}
	return nil
}

func newMigrate(dsn string) (*migrate.Migrate, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("pgstore: database URL must be postgres://...")
	}
	u.Scheme = "pgx5"
	q := u.Query()
	q.Set("x-migrations-table", migrationsTable)
	u.RawQuery = q.Encode()
	src, err := iofs.New(migrations.MASA, "masa")
	if err != nil {
		return nil, fmt.Errorf("pgstore: migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return nil, fmt.Errorf("pgstore: migrate: %w", err)
	}
	return m, nil
}
