// Package pgstore implements masa.Store on PostgreSQL through pgx/v5
// (pgxpool), with the schema in migrations.MASA applied by Migrate.
//
// Multi-row changes run in one transaction; the audit event describing an
// operator action is written in the same transaction as the action.
package pgstore
