package bench

import "testing"

// TestFloor runs the floor's operations once each: every signature made
// verifies, every certificate chains as the sandbox's do.
func TestFloor(t *testing.T) {
	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Onboarding(true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Time(1, false); err != nil {
		t.Fatal(err)
	}
}
