package sandbox_test

import "testing"

// TestSecurity is the attacker's view of a deployment built as operators
// build it (sandbox.Start wires every replica through the same registrar
// constructor and production defaults as `registrar serve`), on real
// PostgreSQL. Each group lives in its own file, security_<group>_test.go;
// every row asserts the status, the reason and the database state after
// the refusal. The numbers in the row names are the items of the security
// review (issue 11) they are the regression tests of.
func TestSecurity(t *testing.T) {
	t.Run("enrollment", testSecurityEnrollment) // 1, 6, 7
	t.Run("ca-policy", testSecurityCAPolicy)    // 2
	t.Run("atls", testSecurityATLS)             // 3, 4, 5, 11, 13, 14
	t.Run("replicas", testSecurityReplicas)     // 8, 9, 12
	t.Run("masa", testSecurityMASA)             // 10, 15
	t.Run("nginx", testSecurityNginx)           // 16
}
