// Command masa is the manufacturer's authorized signing authority of
// RFC 8995: it issues IDevIDs to factory lines, records devices and their
// owners, and answers registrars' voucher-requests. See docs/masa.md.
//
//	masa [serve]        run the device-facing and admin listeners
//	masa init           create (or import) the IDevID CA, voucher signer, TLS key
//	masa migrate        up (default) | down (the newest migration; --all: every one) | version
//	masa token create   make an admin API token (--role, --name)
//	masa token list | token revoke --id N
//	masa idevid issue   sign a device CSR into an IDevID and register the device
//	masa device import  bulk-import devices from JSON or CSV
//
// The store is PostgreSQL at --database-url, shared by any number of MASA
// processes, or without one the embedded SQLite file <key-dir>/masa.db
// (internal/masa/sqlstore), held by the one `masa serve` (a second is
// refused) and migrated at its start; the one-shot commands open it beside
// the running server. `masa migrate` needs the server stopped on it.
//
// Every subcommand takes --help. Options come from flags, the environment
// and a YAML file, through internal/cli as for every Landfall binary; the
// service itself is assembled by masa.New.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/landfall-io/landfall/internal/cli"
)

// envPrefix starts every option's environment variable: LANDFALL_MASA_KEY_DIR.
const envPrefix = "LANDFALL_MASA"

func main() {
	cli.TuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run dispatches a subcommand and returns the exit status. getenv is the
// only way the binary reads its environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
		if (cmd == "token" || cmd == "idevid" || cmd == "device") && len(args) > 0 {
			cmd, args = cmd+" "+args[0], args[1:]
		}
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stdout, stderr, getenv)
	case "init":
		err = initKeys(args, stdout, getenv)
	case "migrate":
		err = migrate(ctx, args, stdout, getenv)
	case "backup":
		err = backup(ctx, args, stdout, getenv)
	case "token create", "token list", "token revoke":
		err = token(ctx, cmd, args, stdout, stderr, getenv)
	case "idevid issue":
		err = issueIDevID(ctx, args, stdout, stderr, getenv)
	case "device import":
		err = importDevices(ctx, args, stdout, stderr, getenv)
	case "help":
		fmt.Fprint(stdout, topUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "masa: unknown command %q\n\n%s", cmd, topUsage)
		return 2
	}
	if cli.IsHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "masa %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

const topUsage = `usage: masa [command] [options]

commands:
  serve          run the MASA (default)
  init           create or import the IDevID CA, voucher-signing key and TLS key
  migrate        the database schema: up (default), down (reverts the newest migration), version
  backup         copy the embedded store while the MASA runs: --out FILE
  token create   create an admin API token: --role admin|factory|sales|auditor --name NAME
  token list     list tokens
  token revoke   revoke a token: --id N
  idevid issue   sign a CSR into an IDevID and register the device
  device import  import devices from a JSON or CSV file (schema v1)

Run "masa <command> --help" for the options of a command.
`
