// Command loadgen is Landfall's load generator: it mints N virtual devices
// through a MASA's factory API, sells them to the owner through its sales
// API, onboards them C at a time through the whole RFC 8995 pledge flow and
// reports successes, failures by reason, the rate and latency percentiles.
// With --sandbox it first starts a whole deployment in this process, which
// is why it is not part of the device binary (cmd/pledge).
package main

import (
	"context"
	"io"
	"os"

	"github.com/landfall-io/landfall/internal/cli"
)

const envPrefix = "LANDFALL_LOADGEN"

func main() {
	cli.Main("loadgen", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdout, os.Getenv) })
}

func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	return load(ctx, args, stdout, getenv)
}
