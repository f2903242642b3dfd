package sandbox

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/landfall-io/landfall/internal/masa/sqlstore"
	"github.com/landfall-io/landfall/internal/registrar"
	"github.com/landfall-io/landfall/migrations"
)

// The sandbox's stores are those `masa serve` and `registrar serve` open:
// PostgreSQL from the options' URLs, or the embedded SQLite files in the
// state directories (Options.Embedded).

func openMASAStore(ctx context.Context, o Options, path string) (*sqlstore.Store, error) {
	if o.Embedded {
		s, _, err := sqlstore.OpenEmbedded(ctx, path)
		return s, err
	}
	if _, err := migrations.Up(o.MASADatabaseURL, migrations.MASASchema); err != nil {
		return nil, err
	}
	return sqlstore.Open(ctx, o.MASADatabaseURL, 20)
}

func (d *Deployment) openRegistrarStore(ctx context.Context, o Options, stateDir string) error {
	if o.Embedded {
		db, _, err := registrar.OpenEmbedded(ctx, stateDir, true)
		if err != nil {
			return err
		}
		d.lite = db
		d.closers = append(d.closers, func() { db.Close() })
		return nil
	}
	if _, err := migrations.Up(o.RegistrarDatabaseURL, migrations.RegistrarSchema); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, o.RegistrarDatabaseURL)
	if err != nil {
		return err
	}
	d.pool = pool
	d.closers = append(d.closers, pool.Close)
	return nil
}

// onStore puts a replica's configuration on the deployment's store, as
// serve does.
func (d *Deployment) onStore(cfg registrar.Config) (registrar.Config, error) {
	if d.lite != nil {
		return registrar.OnSQLite(cfg, d.lite)
	}
	return registrar.OnPostgreSQL(cfg, d.pool)
}
