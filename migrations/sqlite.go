package migrations

import "embed"

// SQLite holds the SQLite form of both schemas, for the embedded store of a
// single registrar or MASA (internal/sqldb): the directories
// "sqlite/registrar" and "sqlite/masa" mirror "registrar" and "masa"
// migration for migration, same versions and names, so that a version
// number means the same schema on both backends.
//
//go:embed sqlite/registrar/*.sql sqlite/masa/*.sql
var SQLite embed.FS
