package cli

import "runtime/debug"

// DefaultGCPercent is the garbage collector's target (GOGC) of Landfall's
// binaries when the environment sets none. Go's default, 100, collects
// whenever the heap doubles; a registrar's live heap is small (sessions
// in handshake, cached contexts: tens of MB) and churns fast, so at 100
// the collector took some 20 % of a replica's CPU under load. At 400 the
// heap may grow to five times the live heap between collections, and the
// same load costs about 12 % less CPU (BENCHMARKS.md, issue 14). GOGC and
// GOMEMLIMIT in the environment still decide when set: a memory limit
// makes the collector run earlier when the heap nears it.
const DefaultGCPercent = 400

// TuneGC sets DefaultGCPercent unless GOGC is set, and returns the GC
// percent now in effect.
func TuneGC(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		p := debug.SetGCPercent(-1) // read the runtime's value, GOGC's
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(DefaultGCPercent)
	return DefaultGCPercent
}
