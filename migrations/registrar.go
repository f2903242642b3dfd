package migrations

import "embed"

// Registrar is the schema of the registrar (cmd/registrar), in the
// directory "registrar". All replicas of one deployment share it.
//
//go:embed registrar/*.sql
var Registrar embed.FS
