// Package testkit is the one test kit of Landfall's internal and command
// packages: a settable clock, a test PKI (CAs, intermediates, leaves,
// IDevIDs with serialNumber and the MASA URL extension, self-signed
// certificates, CSRs), PostgreSQL helpers (a migrated database, row counts
// and table snapshots that show a rejected request changed nothing) and a
// free loopback address.
//
// It is for tests only. Packages under pkg/ do not import internal/, so
// their tests keep their own helpers, one file per package.
package testkit
