// Command pledge is Landfall's reference device: it onboards one device
// through the whole RFC 8995 pledge flow (`pledge onboard`). It is a device
// and nothing else: it links no MASA, registrar or sandbox code. The load
// generator that onboards many virtual devices is cmd/loadgen.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/landfall-io/landfall/internal/cli"
)

const envPrefix = "LANDFALL_PLEDGE"

func main() {
	cli.Main("pledge", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdout, os.Getenv) })
}

func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	cmd := "onboard"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "onboard":
		return onboard(ctx, args, stdout, getenv)
	case "load":
		return errors.New("pledge load is now its own command: loadgen (same options)")
	}
	return fmt.Errorf("unknown subcommand %q (onboard)", cmd)
}
