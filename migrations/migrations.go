// Package migrations embeds the SQL schema of each Landfall service, as
// golang-migrate migration files, so that every binary carries the schema
// it needs and can apply it at start-up or from its `migrate` subcommand.
//
// One embed.FS per service; each holds NNNN_name.up.sql / .down.sql files in
// a directory named after the service. Use it with golang-migrate's iofs
// source: iofs.New(migrations.MASA, "masa").
package migrations

import "embed"

// MASA is the schema of the manufacturer's authorized signing authority
// (cmd/masa), in the directory "masa".
//
//go:embed masa/*.sql
var MASA embed.FS
