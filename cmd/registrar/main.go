// Command registrar runs Landfall's BRSKI registrar: see internal/registrar
// and docs/. Subcommands: serve (default), init, migrate, token.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/landfall-io/landfall/internal/cli"
)

const envPrefix = "LANDFALL_REGISTRAR"

func main() {
	cli.Main("registrar", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv) })
}

// run dispatches a subcommand; main and the tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr, getenv)
	case "init":
		return initState(args, stdout, getenv)
	case "migrate":
		return migrate(ctx, args, stdout, getenv)
	case "backup":
		return backup(ctx, args, stdout, getenv)
	case "token":
		return token(ctx, args, stdout, getenv)
	case "pledge", "manufacturer":
		return operatorCommand(ctx, cmd, args, stdout, getenv)
	case "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown subcommand %q\n%s", cmd, usage)
}

const usage = `usage: registrar [serve] [options]   run a replica
       registrar init [options]      create the domain CA, certificates and shared keys
       registrar migrate [up|down|version] [options]   upgrade, go back one version, or show it
       registrar backup --out FILE   copy the embedded store while the registrar runs
       registrar token create --name N --role admin|operator|auditor
       registrar pledge list|approve|deny [ids...]
       registrar manufacturer add|list
Each subcommand documents its options with --help.`
