package cli

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if got := TuneGC(getenv); got != DefaultGCPercent || debug.SetGCPercent(DefaultGCPercent) != DefaultGCPercent {
		t.Fatalf("without GOGC: %d", got)
	}
	// With GOGC set the runtime's value (here 100, as if GOGC=100) stays.
	debug.SetGCPercent(100)
	env["GOGC"] = "100"
	if got := TuneGC(getenv); got != 100 || debug.SetGCPercent(100) != 100 {
		t.Fatalf("with GOGC: %d", got)
	}
}
