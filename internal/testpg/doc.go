// Package testpg gives a test binary a real, throwaway PostgreSQL server.
//
// A test binary starts at most one cluster: Debian's initdb and pg_ctl (found
// through `pg_config --bindir`) run in a temporary directory on a free
// loopback port, as the postgres user when the tests run as root (PostgreSQL
// refuses to run as root). Each test gets its own database, dropped when the
// test ends; the cluster is stopped and removed when the binary's tests end.
//
// Setting LANDFALL_TEST_DATABASE_URL points the tests at an existing server
// instead: databases are still created per test on it, and nothing is started
// or stopped.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testpg.Run(m)) }
//
// and in a test:
//
//	dsn := testpg.Database(t)
//
// It is not a mock and not a fixture loader: migrations are the caller's job.
package testpg
