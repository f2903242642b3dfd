package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Main runs a binary's command until SIGINT or SIGTERM cancels its
// context, and exits: 0 on success or after --help, 1 with "name: error"
// on stderr otherwise. It is the whole of a Landfall main function, so
// that every binary starts, stops and fails the same way, with the same
// garbage collector target (TuneGC).
func Main(name string, run func(ctx context.Context) error) {
	TuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil && !IsHelp(err) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
