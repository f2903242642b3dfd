package registrar

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/landfall-io/landfall/internal/sqldb"
	"github.com/landfall-io/landfall/migrations"
)

// EmbeddedFile is the embedded store's file in the state directory.
const EmbeddedFile = "registrar.db"

// OpenEmbedded opens the single registrar's SQLite store in stateDir and,
// with migrate, brings it to the newest schema, returning the version (0
// when not migrated). A second process on the same file is refused:
// replicas share PostgreSQL. `registrar serve` and the sandbox open it
// this way; OnSQLite then puts a registrar on it.
func OpenEmbedded(ctx context.Context, stateDir string, migrate bool) (*sqldb.SQLiteDB, uint, error) {
	db, err := sqldb.OpenSQLite(ctx, filepath.Join(stateDir, EmbeddedFile))
	var inUse *sqldb.InUseError
	if errors.As(err, &inUse) {
		return nil, 0, fmt.Errorf("%w; to run more than one registrar replica, give every replica the same --database-url (PostgreSQL)", err)
	}
	if err != nil || !migrate {
		return db, 0, err
	}
	v, err := migrations.UpSQLite(db, migrations.RegistrarSchema)
	if err != nil {
		db.Close()
		return nil, 0, err
	}
	return db, v, nil
}
