// Package testkit is the one test kit of Landfall's internal and command
// packages:
//
//   - clock.go: Clock, a settable clock for the services' clock options.
//   - keys.go, pki.go, tls.go: the test PKI: P-256 keys, CAs,
//     intermediates, leaves, IDevIDs (RFC 8995 2.3.1: serialNumber and the
//     MASA URL extension), self-signed anchors, CSRs, cert pools and
//     tls.Certificates.
//   - postgres.go: migrated databases and pools on the test cluster
//     (internal/testpg), row counts, table snapshots that show a refused
//     request changed nothing, stopping PostgreSQL for a fault test.
//   - http.go, files.go: a free loopback address, a request with its whole
//     answer read; PEM files.
//   - stepca.go: a step-ca home directory as the smallstep/step-ca image
//     initialises it (root, intermediate, a JWK provisioner with an
//     encrypted key, the password file), for a step-ca process.
//
// Sandbox deployments for tests are in the subpackage testdeploy, apart
// because the sandbox links every service and the services' own tests use
// this kit.
//
// It is for tests only. Packages under pkg/ do not import internal/, so
// their tests keep their own helpers, one file per package.
package testkit
